/** Attachment records: what attach did, so detach and status can reverse and verify it. */
import { join } from 'node:path';
import type { LinkAddrs, Route } from './kernel/ip.js';
import { RefusedError } from './errors.js';
import { managedFiles } from './host/paths.js';
import { defaultsReplaced, planAttach, type AttachInput } from './plan/attach.js';
import type { AttachRequest, NicSelector, TargetSpec } from './request/types.js';
import { describeTarget, targetAlive } from './runtime/resolve.js';
import type { Target } from './runtime/types.js';
import { SCHEMA, isObject, type StateDir } from './state.js';
import { checkStep, problemOf, type Bounds } from './steps/validate.js';
import {
  PRIVATE_NS, fail, needArray, needBool, needCidr, needDst, needHexId, needIfName, needInt, needIp, needLinkAddr, needMac, needMtu, needNs,
  needObject, needString, needToken, needWord,
} from './steps/shapes.js';
import type { SavedById } from './steps/types.js';
import type { DhcpLease } from './dhcp/lease.js';
import { decodeTag, encodeTag, type Tag } from './tag.js';
import { MACVLAN_MODES, type MacvlanMode } from './request/macvlan.js';

export interface AttachmentRecord {
  schema: typeof SCHEMA;
  kind: 'attachment';
  id: string;
  createdAt: string;
  input: AttachInput;
  /** What the attach steps captured, by step id (steps that captured nothing are absent). */
  saved: SavedById;
  /** Made by a CNI ADD (src/cni): who the runtime knows it as, and the result ADD gave. */
  cni?: CniAttachment;
}

/** A CNI attachment's identity: DEL, CHECK and GC find its record by it. */
export interface CniAttachment {
  containerId: string;
  /** The network's name (the configuration's "name"). */
  network: string;
  /** CNI_IFNAME: the interface's name inside. */
  ifname: string;
  /** What ADD printed (a second ADD prints it again). */
  result: unknown;
}

export const recordPath = (id: string): string => join('attachments', `${id}.json`);

/**
 * Why a record (file `name` in attachments/) must not be used, or undefined.
 * Detach runs the attach plan rebuilt from a record's input, so that plan
 * is what is checked: every step against its kind's schema
 * (steps/validate.ts), each with what the record saved for it; and the
 * input's other fields, which name the NIC, the container and the files.
 */
export function recordProblem(v: unknown, name: string, bounds: Bounds = managedFiles()): string | undefined {
  return problemOf(() => {
    const r = needObject(v, 'record', ['schema', 'kind', 'id', 'createdAt', 'input', 'saved'], ['cni']);
    if (r.kind !== 'attachment') fail('kind', 'not "attachment"');
    const id = needHexId(r.id, 'id');
    if (name !== `${id}.json`) fail('id', `${id} is not the file's own name`);
    needString(r.createdAt, 'createdAt', 64);
    checkInput(r.input, id);
    if (r.cni !== undefined) checkCni(r.cni);
    const saved = needObject(r.saved, 'saved', [], Object.keys(r.saved ?? {}));
    let steps;
    try {
      steps = planAttach(r.input as AttachInput);
    } catch (e) {
      return fail('input', `no plan can be made from it (${(e as Error).message.split('\n')[0]})`);
    }
    const ids = new Set(steps.map((s) => s.id));
    for (const key of Object.keys(saved)) if (!ids.has(key)) fail(`saved.${key}`, 'no step of this attachment has that id');
    steps.forEach((s) => checkStep(Object.hasOwn(saved, s.id) ? { ...s, saved: saved[s.id] } : s, bounds, `plan step ${s.id}`));
  });
}

/** Who a CNI runtime knows the attachment as (src/cni): names only, never run. */
function checkCni(v: unknown): void {
  const c = needObject(v, 'cni', ['containerId', 'network', 'ifname', 'result']);
  needString(c.containerId, 'cni.containerId', 1024);
  needString(c.network, 'cni.network', 1024);
  needIfName(c.ifname, 'cni.ifname');
  if (!isObject(c.result)) fail('cni.result', 'not an object');
}

/** The fields of an attach input that are not (only) in its steps: who the NIC, the container and the request are. */
function checkInput(v: unknown, id: string): void {
  const i = needObject(v, 'input', ['id', 'request', 'host', 'target', 'ctrName', 'tmpNs', 'tag', 'path'], ['ctrDefaults', 'macvlan', 'dhcp']);
  if (i.dhcp !== undefined) needObject(i.dhcp, 'input.dhcp', ['lease'], ['pidns']); // each field checked in its steps' params
  if (i.id !== id) fail('input.id', 'is not the record\'s id');
  needIfName(i.ctrName, 'input.ctrName');
  if (typeof i.tmpNs !== 'string' || !PRIVATE_NS.test(i.tmpNs)) fail('input.tmpNs', 'is not a private namespace of hostnic (hostnic-<hex>)');
  needString(i.tag, 'input.tag', 255);
  if (i.path !== 'direct' && i.path !== 'private') fail('input.path', 'not direct or private');
  const h = needObject(i.host, 'input.host', ['name', 'ifindex', 'mac', 'mtu', 'up', 'addrs', 'routes', 'sysctls'],
    ['permaddr', 'parentdev', 'kind', 'alias', 'addrExpires', 'master', 'neigh']);
  needIfName(h.name, 'input.host.name');
  needInt(h.ifindex, 'input.host.ifindex', 0, 0x7fffffff);
  needLinkAddr(h.mac, 'input.host.mac');
  needMtu(h.mtu, 'input.host.mtu');
  needBool(h.up, 'input.host.up');
  if (h.permaddr !== undefined) needLinkAddr(h.permaddr, 'input.host.permaddr');
  if (h.parentdev !== undefined) needToken(h.parentdev, 'input.host.parentdev');
  if (h.kind !== undefined) needWord(h.kind, 'input.host.kind');
  if (h.alias !== undefined) needString(h.alias, 'input.host.alias', 255);
  needArray(h.routes, 'input.host.routes').forEach((x, n) => {
    const r = needObject(x, `input.host.routes[${n}]`, ['family', 'args']);
    if (r.family !== 4 && r.family !== 6) fail(`input.host.routes[${n}].family`, 'not 4 or 6');
  });
  needArray(h.sysctls, 'input.host.sysctls').forEach((x, n) => needObject(x, `input.host.sysctls[${n}]`, ['key', 'value', 'defaultValue']));
  if (h.master !== undefined) {
    const m = needObject(h.master, 'input.host.master', ['name', 'kind']);
    needIfName(m.name, 'input.host.master.name');
    needWord(m.kind, 'input.host.master.kind');
  }
  const t = needObject(i.target, 'input.target', ['display', 'kind', 'nsPath', 'nsId'], ['pid', 'runtime']);
  needString(t.display, 'input.target.display', 1024);
  if (!['pid', 'netns', 'path', 'docker', 'podman', 'containerd'].includes(t.kind as string)) fail('input.target.kind', 'not a kind of target');
  if (needNs(t.nsPath, 'input.target.nsPath') === null) fail('input.target.nsPath', 'is not a path');
  if (typeof t.nsId !== 'string' || !/^\d+:\d+$/.test(t.nsId)) fail('input.target.nsId', 'is not DEVICE:INODE');
  if (t.pid !== undefined) needInt(t.pid, 'input.target.pid', 1, 0x3fffffff);
  if (t.runtime !== undefined) {
    const rt = needObject(t.runtime, 'input.target.runtime', ['name', 'id', 'containerName'], ['namespace']);
    if (!['docker', 'podman', 'containerd'].includes(rt.name as string)) fail('input.target.runtime.name', 'not a runtime');
    needToken(rt.id, 'input.target.runtime.id');
    needString(rt.containerName, 'input.target.runtime.containerName', 1024);
    if (rt.namespace !== undefined) needString(rt.namespace, 'input.target.runtime.namespace', 1024);
  }
  const q = needObject(i.request, 'input.request', ['target', 'nic', 'addresses', 'routes', 'force'], ['name', 'mac', 'mtu', 'macvlan', 'dhcp']);
  checkMacvlan(i, h, q);
  if (q.dhcp !== undefined) needInt(needObject(q.dhcp, 'input.request.dhcp', ['timeout']).timeout, 'input.request.dhcp.timeout', 1, 3600);
  if ((q.dhcp === undefined) !== (i.dhcp === undefined)) fail('input.dhcp', 'is not there exactly when the request has dhcp');
  needObject(q.target, 'input.request.target', ['kind'], Object.keys(q.target ?? {}));
  needObject(q.nic, 'input.request.nic', ['kind'], Object.keys(q.nic ?? {}));
  needBool(q.force, 'input.request.force');
  if (q.name !== undefined) needIfName(q.name, 'input.request.name');
  if (q.mac !== undefined) needMac(q.mac, 'input.request.mac');
  if (q.mtu !== undefined) needMtu(q.mtu, 'input.request.mtu');
  needArray(q.addresses, 'input.request.addresses').forEach((x, n) => {
    const at = `input.request.addresses[${n}]`;
    const a = needObject(x, at, ['family', 'address', 'prefix', 'cidr'], ['gateway']);
    needCidr(a.cidr, `${at}.cidr`);
    if (a.cidr !== `${String(a.address)}/${String(a.prefix)}`) fail(`${at}.cidr`, 'is not its address/prefix');
    if (a.gateway !== undefined) needIp(a.gateway, `${at}.gateway`);
    if (a.family !== (String(a.address).includes(':') ? 6 : 4)) fail(`${at}.family`, 'is not the address\'s family');
  });
  needArray(q.routes, 'input.request.routes').forEach((x, n) => {
    const r = needObject(x, `input.request.routes[${n}]`, ['family', 'dst'], ['via']);
    needDst(r.dst, `input.request.routes[${n}].dst`);
    if (r.via !== undefined) needIp(r.via, `input.request.routes[${n}].via`);
  });
}

/** A macvlan child's record: the child of a named parent, of kind macvlan, asked for as one (plan/attach.ts AttachInput.macvlan). */
function checkMacvlan(i: Record<string, unknown>, h: Record<string, unknown>, q: Record<string, unknown>): void {
  if (i.macvlan === undefined && q.macvlan === undefined) return;
  const m = needObject(i.macvlan, 'input.macvlan', ['parent', 'mode']);
  needIfName(m.parent, 'input.macvlan.parent');
  if (!(MACVLAN_MODES as readonly unknown[]).includes(m.mode)) fail('input.macvlan.mode', 'not bridge, private or vepa');
  if (m.parent !== h.name) fail('input.macvlan.parent', 'is not input.host.name (a child is named by its parent)');
  if (h.kind !== 'macvlan') fail('input.host.kind', 'is not "macvlan" for a macvlan child');
  const r = needObject(q.macvlan, 'input.request.macvlan', ['mode']);
  if (r.mode !== m.mode) fail('input.request.macvlan.mode', 'is not input.macvlan.mode');
}

export function loadRecords(state: StateDir): { records: AttachmentRecord[]; bad: { file: string; error: string }[] } {
  const bounds = managedFiles();
  const { items, bad } = state.readAll<AttachmentRecord>(state.attachDir, (v, name) => recordProblem(v, name, bounds));
  return { records: items, bad };
}

/**
 * Does a record stand for the host NIC the selector names: its name, MAC or
 * PCI address in the host? What attach, apply and the CNI ADD select. Not the
 * name or MAC it has in its container: on a host whose NICs are ethN, another
 * NIC may be eth1 inside a container.
 */
export function recordMatches(r: AttachmentRecord, sel: NicSelector): boolean {
  const h = r.input.host;
  switch (sel.kind) {
    case 'name': return h.name === sel.name;
    case 'mac': return h.mac === sel.mac || h.permaddr === sel.mac;
    case 'pci': return h.parentdev === sel.address;
  }
}

/** The same, or the NIC as its container knows it (detach falls back on it when no NIC is so named in the host: `hostnic detach web eth1`). */
export function recordNamed(r: AttachmentRecord, sel: NicSelector): boolean {
  return recordMatches(r, sel) || (sel.kind === 'name' && r.input.ctrName === sel.name) || (sel.kind === 'mac' && r.input.request.mac === sel.mac);
}

/** Does a record stand for what a request (a desired entry) asks: the host NIC it names, moved or as a macvlan parent, as asked? */
export function recordWanted(r: AttachmentRecord, req: Pick<AttachRequest, 'nic' | 'macvlan'>): boolean {
  return recordMatches(r, req.nic) && !!r.input.macvlan === !!req.macvlan;
}

/** The parts of a request that define the result (not how the user spelled the target). */
export function sameRequest(a: AttachRequest, b: AttachRequest, ctrName: string): boolean {
  const key = (r: AttachRequest) => JSON.stringify({
    addresses: r.addresses, mac: r.mac ?? null, mtu: r.mtu ?? null, routes: r.routes, ...(r.macvlan ? { macvlan: r.macvlan.mode } : {}), ...(r.dhcp ? { dhcp: true } : {}),
  });
  return key(a) === key(b) && (b.name === undefined || b.name === ctrName);
}

/** The DHCP lease applied to an attachment's NIC (saved by its dhcp.lease step), if any. */
export function appliedLease(rec: Pick<AttachmentRecord, 'input' | 'saved'>): DhcpLease | undefined {
  return rec.input.request.dhcp ? rec.saved['ctr.dhcp'] as DhcpLease | undefined : undefined;
}

/**
 * Does a record belong to the container the user named? With the container
 * resolved: the records of its namespace, and the records of a namespace that
 * is gone which were made for the same container (same runtime id: it was
 * restarted, so it has a new namespace) or under the same name; detach then
 * forgets them, or restores a physical NIC that came back. Unresolved (the
 * container is gone or stopped): by how the user named it.
 */
export function recordForSpec(r: AttachmentRecord, spec: TargetSpec, target?: Target): boolean {
  const t = r.input.target;
  if (target) {
    if (t.nsId === target.nsId) return true;
    if (targetAlive(t)) return false;
    const a = t.runtime;
    const b = target.runtime;
    if (a && b && a.name === b.name && a.id === b.id && a.namespace === b.namespace) return true;
  }
  if (t.display === describeTarget(spec)) return true;
  switch (spec.kind) {
    case 'pid': return t.pid === spec.pid;
    case 'path': return t.nsPath === spec.path;
    case 'netns': return t.nsPath === `/run/netns/${spec.name}`;
    default: {
      const ref = spec.kind === 'name' ? spec.name : spec.ref;
      const rt = t.runtime;
      if (!rt) return false;
      if (spec.kind !== 'name' && spec.kind !== rt.name) return false;
      if (spec.kind === 'containerd' && spec.namespace !== undefined && spec.namespace !== rt.namespace) return false;
      return rt.containerName === ref || (ref.length >= 4 && rt.id.startsWith(ref));
    }
  }
}

/**
 * What a record rebuilt from a tag does not know (the tag carries the NIC's
 * name, MAC, MTU, alias and up state only), so what its detach cannot
 * restore: keys for --json, words for people.
 */
export const UNKNOWN_WITHOUT_RECORD = {
  addresses: 'host addresses',
  routes: 'host routes through it',
  neighbours: 'permanent neighbour entries',
  sysctls: 'per-interface sysctls',
  master: 'bridge or bond it was a port of',
} as const;

/** Rebuilt from the tag on its NIC (no record file): see recordFromTag. */
export const fromTag = (r: AttachmentRecord): boolean => r.createdAt === '';

/**
 * A record rebuilt from the tag on a NIC, for when the state directory is
 * gone. It knows the host identity; host addresses and routes are not in the
 * tag, so they cannot come back (the state file has them). `seen`: what the
 * container shows of it now (observe/tagged.ts taggedView).
 */
export function recordFromTag(
  link: { ifname: string; address?: string; mtu?: number; ifalias?: string }, tag: Tag, target: Target,
  seen: { link?: LinkAddrs; defaults: Record<4 | 6, Route[]> },
): AttachmentRecord {
  const { link: withAddrs, defaults } = seen;
  const addresses: AttachRequest['addresses'] = (withAddrs?.addr_info ?? [])
    .filter((a) => a.scope !== 'link')
    .map((a) => {
      const family = a.family === 'inet' ? 4 : 6;
      const viaUs = defaults[family].find((r) => r.dev === link.ifname && r.gateway);
      return { family, address: a.local, prefix: a.prefixlen, cidr: `${a.local}/${a.prefixlen}`, ...(viaUs ? { gateway: viaUs.gateway } : {}) };
    });
  // Only one gateway per family.
  for (const f of [4, 6]) addresses.filter((a) => a.family === f && a.gateway).slice(1).forEach((a) => delete a.gateway);
  const mac = (link.address ?? '').toLowerCase();
  // A macvlan child (its tag says so): detach deletes it, never sends it "home" (tag.name is its parent).
  const macvlan = tag.macvlan === undefined ? undefined
    : { parent: tag.name, mode: (MACVLAN_MODES as readonly string[]).includes(tag.macvlan) ? tag.macvlan as MacvlanMode : 'bridge' };
  const request: AttachRequest = {
    target: { kind: 'path', path: target.nsPath }, nic: { kind: 'name', name: tag.name }, addresses, routes: [], force: false,
    ...(mac !== tag.mac ? { mac } : {}),
    ...(link.mtu !== undefined && link.mtu !== tag.mtu ? { mtu: link.mtu } : {}),
    ...(macvlan ? { macvlan: { mode: macvlan.mode } } : {}),
  };
  const input: AttachInput = {
    // The tag as it is: a rollback of this detach puts it back.
    // How it moved in is not in the tag; detach plans its way out afresh anyway.
    id: tag.id, request, target, ctrName: link.ifname, tmpNs: `hostnic-${tag.id}`, tag: link.ifalias ?? '', path: 'direct',
    host: {
      name: tag.name, ifindex: 0, mac: tag.mac, mtu: tag.mtu, up: tag.up, ...(tag.alias ? { alias: tag.alias } : {}), ...(macvlan ? { kind: 'macvlan' } : {}),
      addrs: [], routes: [], sysctls: [],
    },
    ...(macvlan ? { macvlan } : {}),
  };
  const gw = (g: string): Route[] => {
    const at = g.lastIndexOf('@');
    const gateway = g.slice(0, at);
    // `pref` marks an IPv6 route, as in `ip -json route` (kernel/ip.ts readNs).
    return [{ dst: 'default', gateway, dev: g.slice(at + 1), ...(gateway.includes(':') ? { pref: 'medium' } : {}) }];
  };
  // What the default-route steps replaced, as attach saved it (for the steps this record has: a
  // default route through the link, as read now).
  const replaced = (f: 4 | 6): boolean => addresses.some((a) => a.family === f && a.gateway);
  const saved: SavedById = {
    ...(tag.gw4 && replaced(4) ? { 'ctr.default4': gw(tag.gw4) } : {}),
    ...(tag.gw6 && replaced(6) ? { 'ctr.default6': gw(tag.gw6) } : {}),
  };
  const rec: AttachmentRecord = { schema: SCHEMA, kind: 'attachment', id: tag.id, createdAt: '', input, saved };
  // The tag is the container's to write (CAP_NET_ADMIN there sets any ifalias): checked as a record
  // read from disk is, before a plan is made from it.
  const problem = recordProblem(rec, `${tag.id}.json`);
  if (problem) throw new RefusedError(`the hostnic tag on ${link.ifname} is not one hostnic wrote: ${problem}`, 'detach it by hand, or give the state directory its record back');
  return rec;
}

const gwText = (routes: unknown): string | undefined => {
  const r = Array.isArray(routes) ? (routes[0] as Route | undefined) : undefined;
  return r && r.gateway && r.dev ? `${r.gateway}@${r.dev}` : undefined;
};

const TAG_FIELDS: [keyof Tag, string][] = [
  ['name', 'host name'], ['mac', 'MAC'], ['mtu', 'MTU'], ['up', 'up'], ['alias', 'alias'],
  ['gw4', "container's previous IPv4 default route"], ['gw6', "container's previous IPv6 default route"], ['macvlan', 'macvlan mode'],
];

/**
 * Where a record and the tag hostnic left on its NIC (tag.ts) disagree about
 * what the tag carries (the NIC's host name, MAC, MTU, up state and alias,
 * the container's default routes attach replaced): one line each, empty
 * when they agree. The record is made into the tag attach wrote from it
 * (same fields, same length limit), so only a real difference counts.
 */
export function tagDisagreements(rec: AttachmentRecord, tag: Tag): string[] {
  const { host, request, ctrDefaults } = rec.input;
  const replaced = defaultsReplaced(request);
  const gw = (family: 4 | 6): string | undefined => (replaced.has(family) ? gwText(rec.saved[`ctr.default${family}`] ?? ctrDefaults?.[family]) : undefined);
  const mine = decodeTag(encodeTag({
    id: rec.id, name: host.name, mac: host.mac, mtu: host.mtu, up: host.up, alias: host.alias, gw4: gw(4), gw6: gw(6),
    ...(rec.input.macvlan ? { macvlan: rec.input.macvlan.mode } : {}),
  }));
  if (!mine) return [];
  const show = (v: unknown): string => (v === undefined ? 'none' : typeof v === 'boolean' ? (v ? 'yes' : 'no') : JSON.stringify(v));
  return TAG_FIELDS.filter(([k]) => mine[k] !== tag[k]).map(([k, what]) => `${what}: the record says ${show(mine[k])}, the tag ${show(tag[k])}`);
}
