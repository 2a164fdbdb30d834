/**
 * The CNI protocol, pure: the environment and the network configuration a
 * runtime hands a plugin, the versions hostnic speaks, the error document
 * and the result of an ADD in the shape of each version. No I/O here (the
 * linter holds it): src/cni/index.ts reads the environment and stdin and
 * hands them in; the handlers do what these describe.
 *
 * Spec: containernetworking/cni SPEC.md 1.1.0; configurations of 0.4.0 and
 * 1.0.0 are accepted too (their results differ in one field: 0.4.0 names the
 * IP version of each address).
 */
import { validateIfName } from '../request/names.js';
import { parseMac } from '../request/mac.js';
import { parsePciAddress } from '../request/nic.js';
import { HostnicError } from '../errors.js';

/** The version hostnic implements, and the configuration versions it accepts. */
export const SPEC_VERSION = '1.1.0';
export const SUPPORTED_VERSIONS = ['0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];

/** The spec's error codes (1-99 are the spec's; 100 and up are hostnic's own). */
export const CODE = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnv: 4,
  io: 5,
  decode: 6,
  invalidConfig: 7,
  tryAgain: 11,
  notAvailable: 50,
  /** hostnic: the NIC is not on this host (or is attached elsewhere): nothing was changed. */
  nic: 100,
  /** hostnic: a step failed and every change was rolled back. */
  rolledBack: 101,
  /** hostnic: a rollback could not finish; `hostnic recover` retries it. */
  incomplete: 102,
  /** hostnic: CHECK found the attachment not as ADD left it. */
  drifted: 103,
  /** hostnic: the IPAM plugin could not be run or gave no usable result. */
  ipam: 104,
} as const;

export class CniError extends Error {
  constructor(readonly code: number, message: string, readonly details?: string) {
    super(message);
    this.name = 'CniError';
  }
}

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'VERSION', 'STATUS', 'GC'] as const;
export type CniCommand = (typeof COMMANDS)[number];

export interface CniEnv {
  command: CniCommand;
  containerId: string;
  /** CNI_NETNS: a path to the container's network namespace ('' when absent: DEL after the namespace is gone). */
  netns: string;
  /** CNI_IFNAME: the interface's name inside the container. */
  ifname: string;
  /** CNI_PATH, split. */
  path: string[];
}

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Read the CNI_* variables a command needs; a missing or malformed one is code 4. */
export function parseEnv(env: Record<string, string | undefined>): CniEnv {
  const command = env.CNI_COMMAND ?? '';
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(CODE.invalidEnv, `unknown CNI_COMMAND "${command}"`, `hostnic knows ${COMMANDS.join(', ')}`);
  }
  const cmd = command as CniCommand;
  const perContainer = cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK';
  const need = (name: string): string => {
    const v = env[name] ?? '';
    if (v === '') throw new CniError(CODE.invalidEnv, `${name} is not set (${cmd} needs it)`);
    return v;
  };
  const containerId = perContainer ? need('CNI_CONTAINERID') : '';
  if (perContainer && !CONTAINER_ID.test(containerId)) {
    throw new CniError(CODE.invalidEnv, `invalid CNI_CONTAINERID "${containerId}"`, 'letters, digits, "_", "." and "-", starting with a letter or digit');
  }
  // DEL may come after the namespace is gone: the spec lets CNI_NETNS be empty then.
  const netns = cmd === 'ADD' || cmd === 'CHECK' ? need('CNI_NETNS') : (perContainer ? env.CNI_NETNS ?? '' : '');
  if (netns !== '' && !netns.startsWith('/')) throw new CniError(CODE.invalidEnv, `CNI_NETNS "${netns}" is not an absolute path`);
  let ifname = '';
  if (perContainer) {
    ifname = need('CNI_IFNAME');
    try {
      validateIfName(ifname, 'CNI_IFNAME');
    } catch (e) {
      throw new CniError(CODE.invalidEnv, (e as Error).message);
    }
  }
  const path = (env.CNI_PATH ?? '').split(':').filter((p) => p !== '');
  return { command: cmd, containerId, netns, ifname, path };
}

/** How the configuration names the host NIC: host-device's keys, with their meaning. */
export type CniNic =
  | { kind: 'name'; name: string }
  | { kind: 'mac'; mac: string }
  | { kind: 'pci'; address: string }
  /** `kernelpath`: a device's sysfs path; the NIC is the netdev under it. */
  | { kind: 'kernelpath'; path: string };

export interface CniConfig {
  cniVersion: CniVersion;
  /** The network's name. */
  name: string;
  type: string;
  /** Absent only for GC and STATUS, which concern no one NIC. */
  nic?: CniNic;
  /** hostnic's own keys; runtimeConfig.mac wins over mac. */
  mtu?: number;
  mac?: string;
  /** The `ipam` section, as given (delegated to the plugin its `type` names). */
  ipam?: { type: string } & Record<string, unknown>;
  /** The result of the plugins before this one in a conflist. */
  prevResult?: CniResultDoc;
  /** GC: the attachments the runtime still has. */
  validAttachments?: { containerID: string; ifname: string }[];
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function versionKnown(v: string): v is CniVersion {
  return (SUPPORTED_VERSIONS as readonly string[]).includes(v);
}

/** The network configuration on stdin (the spec's "runtime configuration" included). */
export function parseConfig(stdin: string, command: CniCommand): CniConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(stdin);
  } catch (e) {
    throw new CniError(CODE.decode, `the network configuration on stdin is not JSON: ${(e as Error).message}`);
  }
  if (!isObj(doc)) throw new CniError(CODE.decode, 'the network configuration on stdin is not a JSON object');
  const bad = (msg: string): never => { throw new CniError(CODE.invalidConfig, msg); };
  const v = doc.cniVersion;
  if (typeof v !== 'string' || v === '') bad('the network configuration has no cniVersion');
  if (!versionKnown(v as string)) {
    throw new CniError(CODE.incompatibleVersion, `cniVersion ${String(v)} is not supported`, `hostnic speaks ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const cniVersion = v as CniVersion;
  if ((command === 'GC' || command === 'STATUS') && cniVersion !== '1.1.0') {
    throw new CniError(CODE.incompatibleVersion, `${command} needs cniVersion 1.1.0 (the configuration says ${cniVersion})`);
  }
  if (typeof doc.name !== 'string' || doc.name === '') bad('the network configuration has no "name"');
  if (typeof doc.type !== 'string' || doc.type === '') bad('the network configuration has no "type"');
  const cfg: CniConfig = { cniVersion, name: doc.name as string, type: doc.type as string };

  const nics = (['device', 'hwaddr', 'pciBusID', 'kernelpath'] as const).filter((k) => doc[k] !== undefined && doc[k] !== '');
  if (command === 'ADD' || command === 'DEL' || command === 'CHECK') {
    if (nics.length !== 1) bad(nics.length ? `give one of ${nics.join(', ')}, not ${nics.length}` : 'name the NIC with one of "device", "hwaddr", "pciBusID" or "kernelpath"');
  }
  const key = nics[0];
  if (key) {
    const value = doc[key];
    if (typeof value !== 'string') bad(`"${key}" must be a string`);
    const s = value as string;
    try {
      if (key === 'device') cfg.nic = { kind: 'name', name: validateIfName(s, '"device"') };
      else if (key === 'hwaddr') cfg.nic = { kind: 'mac', mac: parseMac(s) };
      else if (key === 'pciBusID') cfg.nic = { kind: 'pci', address: parsePciAddress(s) };
      else if (!s.startsWith('/sys/')) bad(`"kernelpath" must be a path under /sys (got "${s}")`);
      else cfg.nic = { kind: 'kernelpath', path: s };
    } catch (e) {
      if (e instanceof HostnicError) bad(`"${key}": ${e.message}`);
      throw e;
    }
  }
  if (doc.mtu !== undefined) {
    if (typeof doc.mtu !== 'number' || !Number.isInteger(doc.mtu)) bad('"mtu" must be an integer');
    cfg.mtu = doc.mtu as number;
  }
  const rc = isObj(doc.runtimeConfig) ? doc.runtimeConfig : {};
  const mac = rc.mac ?? doc.mac;
  if (mac !== undefined && mac !== '') {
    if (typeof mac !== 'string') bad('"mac" must be a string');
    try {
      cfg.mac = parseMac(mac as string);
    } catch (e) {
      if (e instanceof HostnicError) bad(`"${rc.mac !== undefined ? 'runtimeConfig.mac' : 'mac'}": ${e.message}`);
      throw e;
    }
  }
  if (doc.ipam !== undefined && !(isObj(doc.ipam) && Object.keys(doc.ipam).length === 0)) {
    if (!isObj(doc.ipam) || typeof doc.ipam.type !== 'string' || doc.ipam.type === '') bad('"ipam" needs a "type" (the IPAM plugin to run)');
    if ((doc.ipam as { type: string }).type.includes('/')) bad('"ipam.type" is a plugin name, not a path');
    cfg.ipam = doc.ipam as CniConfig['ipam'];
  }
  if (doc.prevResult !== undefined) {
    if (!isObj(doc.prevResult)) throw new CniError(CODE.decode, '"prevResult" is not a JSON object');
    cfg.prevResult = doc.prevResult as CniResultDoc;
  }
  const valid = doc['cni.dev/valid-attachments'];
  if (command === 'GC') {
    if (valid !== undefined && !(Array.isArray(valid) && valid.every((a) => isObj(a) && typeof a.containerID === 'string' && typeof a.ifname === 'string'))) {
      bad('"cni.dev/valid-attachments" must be a list of {containerID, ifname}');
    }
    cfg.validAttachments = (valid ?? []) as CniConfig['validAttachments'];
  }
  return cfg;
}

/** The error document of the spec, with the version of the request when it is known. */
export function errorDoc(e: CniError, version: string = SPEC_VERSION): string {
  return `${JSON.stringify({ cniVersion: version, code: e.code, msg: e.message, ...(e.details ? { details: e.details } : {}) })}\n`;
}

export function versionDoc(): string {
  return `${JSON.stringify({ cniVersion: SPEC_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`;
}

/** A result document as the spec shapes it (any version: fields are kept as given). */
export interface CniResultDoc {
  cniVersion?: string;
  interfaces?: Record<string, unknown>[];
  ips?: ({ address: string; gateway?: string; interface?: number; version?: string } & Record<string, unknown>)[];
  routes?: ({ dst: string; gw?: string } & Record<string, unknown>)[];
  dns?: Record<string, unknown>;
}

/** What an IPAM plugin gave, in hostnic's request words: `ip/prefix[@gateway]` and `dst[@via]`. */
export interface IpamWords {
  addresses: string[];
  routes: string[];
}

const isDefault = (dst: string): boolean => dst === '0.0.0.0/0' || dst === '::/0';
const fam = (addr: string): 4 | 6 => (addr.includes(':') ? 6 : 4);

/**
 * An IPAM result (0.4.0 or 1.x) in the words `hostnic attach` takes. As the
 * reference plugins configure it: a route without `gw` goes through the
 * gateway of the first address of its family, if there is one; the default
 * route of a family becomes the gateway of its first address (hostnic's
 * default route step, which replaces the container's).
 */
export function ipamWords(result: CniResultDoc): IpamWords {
  const ips = result.ips ?? [];
  if (!Array.isArray(ips) || !ips.every((ip) => isObj(ip) && typeof ip.address === 'string')) {
    throw new CniError(CODE.ipam, 'the IPAM result has malformed "ips"');
  }
  const routes = result.routes ?? [];
  if (!Array.isArray(routes) || !routes.every((r) => isObj(r) && typeof r.dst === 'string')) {
    throw new CniError(CODE.ipam, 'the IPAM result has malformed "routes"');
  }
  const gwOf = (f: 4 | 6): string | undefined => ips.find((ip) => fam(ip.address) === f && ip.gateway)?.gateway;
  const defaultGw: Partial<Record<4 | 6, string>> = {};
  const words: IpamWords = { addresses: [], routes: [] };
  for (const r of routes) {
    const f = fam(r.dst);
    const via = r.gw ?? gwOf(f);
    if (isDefault(r.dst) && via) defaultGw[f] ??= via;
    else words.routes.push(via ? `${r.dst}@${via}` : r.dst);
  }
  const used = new Set<4 | 6>();
  for (const ip of ips) {
    const f = fam(ip.address);
    const gw = used.has(f) ? undefined : defaultGw[f];
    if (gw) used.add(f);
    words.addresses.push(gw ? `${ip.address}@${gw}` : ip.address);
  }
  return words;
}

/** The interface hostnic attached, for the result. */
export interface Attached {
  ifname: string;
  mac: string;
  mtu: number;
  sandbox: string;
  pciID?: string;
}

/**
 * The result of an ADD in the configuration's version: the previous
 * plugins' result (a conflist), then this interface, the IPAM addresses
 * pointing at it, and the IPAM routes and DNS.
 */
export function addResult(version: CniVersion, nic: Attached, ipam: CniResultDoc | undefined, prev: CniResultDoc | undefined): CniResultDoc {
  const interfaces = [...(prev?.interfaces ?? [])];
  const index = interfaces.length;
  interfaces.push({
    name: nic.ifname, mac: nic.mac, sandbox: nic.sandbox,
    ...(version === '1.1.0' ? { mtu: nic.mtu, ...(nic.pciID ? { pciID: nic.pciID } : {}) } : {}),
  });
  const ips = (ipam?.ips ?? []).map((ip) => ({
    ...(version === '0.4.0' ? { version: String(fam(ip.address)) } : {}),
    address: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}), interface: index,
  }));
  const routes = (ipam?.routes ?? []).map((r) => ({ dst: r.dst, ...(r.gw ? { gw: r.gw } : {}) }));
  const filled = (d: Record<string, unknown> | undefined) => (d && Object.keys(d).length ? d : undefined);
  const dns = filled(ipam?.dns) ?? filled(prev?.dns);
  return {
    cniVersion: version,
    interfaces,
    ips: [...(prev?.ips ?? []), ...ips],
    routes: [...(prev?.routes ?? []), ...routes],
    ...(dns ? { dns } : {}),
  };
}
