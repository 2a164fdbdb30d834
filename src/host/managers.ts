/**
 * Who else configures a NIC: NetworkManager, systemd-networkd, ifupdown, a
 * running DHCP client, netplan. Each finding is a claim with where it comes
 * from (a file and line, a process, a daemon's answer), so `doctor` can say
 * exactly what to change.
 *
 * Daemons are asked only when their process runs in the inspected namespace:
 * a NetworkManager of another namespace sees other links (and a daemon that
 * is not running is not asked, so nothing can hang on D-Bus activation).
 */
import { readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { read } from '../exec.js';
import { hostPaths, type HostPaths } from './paths.js';
import { inNamespace, listProcesses, programOf, targetNetnsInode, type ProcInfo } from './proc.js';

export type ManagerName = 'NetworkManager' | 'systemd-networkd' | 'ifupdown' | 'dhcp-client' | 'netplan';

export interface ManagerClaim {
  manager: ManagerName;
  /** It acts on the NIC now (the daemon manages it, the client process runs). */
  active: boolean;
  /** Configuration that acts at boot (or on hotplug) even if nothing runs now. */
  atBoot: boolean;
  /** One line for people: state, file:line, pid. */
  detail: string;
  file?: string;
  line?: number;
  pid?: number;
  /** NetworkManager's device state and connection. */
  state?: string;
  connection?: string;
}

/** What identifies a NIC for matching rules (a subset of NicInfo). */
export interface NicIdentity {
  name: string;
  mac: string | null;
  permanentMac: string | null;
  /** 'physical', or the kernel's link kind (veth, bridge, macvlan, ...). */
  kind: string;
  driver: string | null;
  pci: string | null;
  /** `link_type` of `ip -json link` (ether, loopback, ...). */
  linkType?: string | null;
}

export interface ManagerOptions {
  /** Inspect this namespace (a path) instead of hostnic's own. */
  netns?: string;
  paths?: Partial<HostPaths>;
  /** Ask nmcli / networkctl when their daemon runs (default true); false: files and /proc only. */
  askDaemons?: boolean;
}

/** The names (in order, unique) of the managers that act on a NIC now or at boot. */
export function managerNames(claims: readonly ManagerClaim[]): string[] {
  return [...new Set(claims.filter((c) => c.active || c.atBoot).map((c) => c.manager))];
}

export async function detectManagers(nics: readonly NicIdentity[], opts: ManagerOptions = {}): Promise<Map<string, ManagerClaim[]>> {
  const paths = hostPaths(opts.paths);
  const ask = opts.askDaemons ?? true;
  const procs = inNamespace(listProcesses(paths.proc), targetNetnsInode(opts.netns, paths.proc));
  const out = new Map<string, ManagerClaim[]>(nics.map((n) => [n.name, []]));
  const add = (name: string, c: ManagerClaim) => out.get(name)?.push(c);

  const nmRunning = procs.some((p) => programOf(p) === 'NetworkManager' || p.comm === 'NetworkManager');
  if (nmRunning && ask) {
    const devices = await nmDevices();
    for (const d of devices ?? []) {
      if (!out.has(d.device) || !nmStateManages(d.state)) continue;
      add(d.device, {
        manager: 'NetworkManager',
        active: true,
        atBoot: false,
        state: d.state,
        connection: d.connection,
        detail: `NetworkManager: ${d.state}${d.connection ? `, connection "${d.connection}"` : ''}`,
      });
    }
  }

  for (const [name, c] of await networkdClaims(nics, procs, paths, ask)) add(name, c);
  for (const [name, c] of ifupdownClaims(nics, paths)) add(name, c);
  for (const [name, c] of dhcpClaims(nics, procs)) add(name, c);
  for (const [name, c] of netplanClaims(nics, paths)) add(name, c);
  return out;
}

// ---------------------------------------------------------------------------
// NetworkManager

export interface NmDevice {
  device: string;
  state: string;
  connection: string;
}

/** Split one line of `nmcli -t` output: fields separated by ':', with '\:' and '\\' escaped. */
export function splitTerse(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i]!;
    } else if (ch === ':') {
      fields.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  fields.push(cur);
  return fields;
}

export function parseNmcliStatus(text: string): NmDevice[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [device = '', state = '', connection = ''] = splitTerse(l);
      return { device, state, connection };
    });
}

/**
 * Does this `nmcli device status` state mean NetworkManager acts on the
 * device? `unavailable` (no carrier yet) and `disconnected` count: it takes
 * the NIC as soon as a cable or a profile appears. `unmanaged` does not, nor
 * "connected (externally)": NetworkManager only watches a configuration made
 * by someone else.
 */
export function nmStateManages(state: string): boolean {
  const s = state.trim().toLowerCase();
  if (s === '' || s === 'unmanaged') return false;
  if (s.includes('externally')) return false;
  return true;
}

/** NetworkManager's devices, or null when nmcli is missing or NetworkManager does not answer. */
export async function nmDevices(): Promise<NmDevice[] | null> {
  try {
    const text = await read({ argv: ['nmcli', '-t', '-f', 'DEVICE,STATE,CONNECTION', 'device', 'status'], timeoutMs: 10_000 });
    return parseNmcliStatus(text);
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------
// systemd-networkd

export interface NetworkFile {
  path: string;
  /** [Match] assignments, in order; an empty value resets the key's list. */
  match: [string, string][];
  unmanaged: boolean;
}

export function parseNetworkFile(path: string, text: string): NetworkFile {
  const match: [string, string][] = [];
  let unmanaged = false;
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (section === 'Match') match.push([key, value]);
    else if (section === 'Link' && key === 'Unmanaged') unmanaged = /^(1|yes|true|on)$/i.test(value);
  }
  return { path, match, unmanaged };
}

/** A shell-style glob (*, ?, [...]) as an anchored regular expression. */
export function globRegex(glob: string, flags = ''): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else if (ch === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) re += '\\[';
      else {
        let body = glob.slice(i + 1, end);
        if (body.startsWith('!')) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, flags);
}

const normMac = (m: string) => m.trim().toLowerCase().replace(/-/g, ':');

/** The networkd `Type=` of a link (approximate: from its kind and link type). */
function networkdType(nic: NicIdentity): string {
  if (nic.kind === 'bridge') return 'bridge';
  if (nic.linkType === 'loopback') return 'loopback';
  return nic.linkType || 'ether';
}

/**
 * Does a [Match] section select the NIC? Name, MACAddress,
 * PermanentMACAddress, Type, Driver, Kind and Path are evaluated (Path only
 * for PCI addresses; otherwise it does not match); other conditions (Host,
 * Virtualization, ...) are taken as satisfied. No condition at all matches
 * every link, as networkd does.
 */
export function networkFileMatches(file: NetworkFile, nic: NicIdentity): boolean {
  const lists = new Map<string, string[]>();
  for (const [key, value] of file.match) {
    if (value === '') lists.delete(key);
    else lists.set(key, [...(lists.get(key) ?? []), ...value.split(/\s+/)]);
  }
  for (const [key, items] of lists) {
    const invert = items[0]?.startsWith('!') ?? false;
    const pats = items.map((p, i) => (i === 0 && invert ? p.slice(1) : p)).filter((p) => p !== '');
    let hit: boolean;
    switch (key) {
      case 'Name':
        hit = pats.some((p) => globRegex(p).test(nic.name));
        break;
      case 'MACAddress':
        hit = !!nic.mac && pats.some((p) => normMac(p) === normMac(nic.mac!));
        break;
      case 'PermanentMACAddress': {
        const perm = nic.permanentMac;
        hit = !!perm && pats.some((p) => normMac(p) === normMac(perm));
        break;
      }
      case 'Type':
        hit = pats.some((p) => globRegex(p).test(networkdType(nic)));
        break;
      case 'Driver':
        hit = !!nic.driver && pats.some((p) => globRegex(p).test(nic.driver!));
        break;
      case 'Kind':
        hit = nic.kind !== 'physical' && pats.some((p) => globRegex(p).test(nic.kind));
        break;
      case 'Path':
        hit = !!nic.pci && pats.some((p) => globRegex(p).test(`pci-${nic.pci}`));
        break;
      default:
        continue;
    }
    if (hit === invert) return false;
  }
  return true;
}

/**
 * The .network files networkd would consider, in its order: a file name in
 * an earlier directory hides the same name in later ones, a file linked to
 * /dev/null (or empty) masks it, and files apply in order of name.
 */
export function networkFiles(dirs: readonly string[]): NetworkFile[] {
  const byName = new Map<string, string | null>();
  for (const dir of dirs) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.network'));
    } catch {
      continue;
    }
    for (const n of names) {
      if (byName.has(n)) continue;
      const path = join(dir, n);
      let masked = false;
      try {
        masked = readlinkSync(path) === '/dev/null';
      } catch {
        /* not a symlink */
      }
      try {
        if (!masked && statSync(path).size === 0) masked = true;
      } catch {
        masked = true;
      }
      byName.set(n, masked ? null : path);
    }
  }
  const out: NetworkFile[] = [];
  for (const n of [...byName.keys()].sort()) {
    const path = byName.get(n);
    if (!path) continue;
    try {
      out.push(parseNetworkFile(path, readFileSync(path, 'utf8')));
    } catch {
      /* unreadable: skip */
    }
  }
  return out;
}

/** The file networkd applies to the NIC (the first match), or undefined. */
export function networkFileFor(files: readonly NetworkFile[], nic: NicIdentity): NetworkFile | undefined {
  return files.find((f) => networkFileMatches(f, nic));
}

function networkdEnabled(systemdSystemDir: string): boolean {
  try {
    for (const d of readdirSync(systemdSystemDir)) {
      if (!d.endsWith('.wants')) continue;
      try {
        statSync(join(systemdSystemDir, d, 'systemd-networkd.service'));
        return true;
      } catch {
        /* not in this one */
      }
    }
  } catch {
    /* no such dir */
  }
  return false;
}

interface NetworkctlLink {
  Name?: string;
  AdministrativeState?: string;
  SetupState?: string;
  NetworkFile?: string;
}

async function networkctlLinks(): Promise<NetworkctlLink[] | null> {
  try {
    const text = await read({ argv: ['networkctl', 'list', '--json=short', '--no-pager'], timeoutMs: 10_000 });
    const data = JSON.parse(text) as { Interfaces?: NetworkctlLink[] };
    return Array.isArray(data.Interfaces) ? data.Interfaces : null;
  } catch {
    return null;
  }
}

async function networkdClaims(
  nics: readonly NicIdentity[],
  procs: ProcInfo[],
  paths: HostPaths,
  ask: boolean,
): Promise<[string, ManagerClaim][]> {
  const running = procs.some((p) => p.comm === 'systemd-network' || programOf(p) === 'systemd-networkd');
  const out: [string, ManagerClaim][] = [];
  if (running && ask) {
    const links = await networkctlLinks();
    if (links) {
      for (const nic of nics) {
        const l = links.find((x) => x.Name === nic.name);
        const state = l?.AdministrativeState ?? l?.SetupState;
        if (!l || !state || state === 'unmanaged') continue;
        out.push([nic.name, {
          manager: 'systemd-networkd',
          active: true,
          atBoot: true,
          state,
          ...(l.NetworkFile ? { file: l.NetworkFile } : {}),
          detail: `systemd-networkd: ${state}${l.NetworkFile ? ` by ${l.NetworkFile}` : ''}`,
        }]);
      }
      return out;
    }
  }
  const files = networkFiles(paths.networkdDirs);
  const enabled = running || networkdEnabled(paths.systemdSystemDir);
  for (const nic of nics) {
    const f = networkFileFor(files, nic);
    if (!f || f.unmanaged) continue;
    out.push([nic.name, {
      manager: 'systemd-networkd',
      active: running,
      atBoot: enabled,
      file: f.path,
      detail: `systemd-networkd: ${f.path} matches${running ? '' : enabled ? ' (networkd enabled, not running)' : ' (networkd not running)'}`,
    }]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// ifupdown

export interface IfupdownEntry {
  file: string;
  line: number;
  /** auto, allow-hotplug, allow-auto, allow-<class>, iface */
  keyword: string;
  text: string;
}

const IGNORED_CONF = /(^\.|~$|\.dpkg-(old|new|dist|bak|tmp)$|\.(bak|orig|swp)$)/;

/** Lines of /etc/network/interfaces (and interfaces.d) that name the interface. */
export function ifupdownEntries(text: string, file: string, name: string): IfupdownEntry[] {
  const out: IfupdownEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const kw = words[0]!;
    if (kw === 'auto' || kw.startsWith('allow-')) {
      if (words.slice(1).includes(name)) out.push({ file, line: i + 1, keyword: kw, text: line });
    } else if (kw === 'iface' && words[1] === name) {
      out.push({ file, line: i + 1, keyword: kw, text: line });
    }
  }
  return out;
}

function ifupdownSources(paths: HostPaths): [string, string][] {
  const files = [paths.ifupdownFile];
  try {
    for (const n of readdirSync(paths.ifupdownDir).sort()) if (!IGNORED_CONF.test(n)) files.push(join(paths.ifupdownDir, n));
  } catch {
    /* no interfaces.d */
  }
  const out: [string, string][] = [];
  for (const f of files) {
    try {
      out.push([f, readFileSync(f, 'utf8')]);
    } catch {
      /* missing */
    }
  }
  return out;
}

function ifupdownUp(runDir: string, name: string): boolean {
  try {
    const text = readFileSync(join(runDir, 'ifstate'), 'utf8');
    if (text.split('\n').some((l) => l.split('=')[0]?.trim() === name)) return true;
  } catch {
    /* older or newer layout */
  }
  try {
    return readFileSync(join(runDir, `ifstate.${name}`), 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

function ifupdownClaims(nics: readonly NicIdentity[], paths: HostPaths): [string, ManagerClaim][] {
  const sources = ifupdownSources(paths);
  const out: [string, ManagerClaim][] = [];
  if (sources.length === 0) return out;
  for (const nic of nics) {
    const entries = sources.flatMap(([file, text]) => ifupdownEntries(text, file, nic.name));
    if (entries.length === 0) continue;
    const starts = entries.filter((e) => e.keyword !== 'iface');
    const first = starts[0] ?? entries[0]!;
    out.push([nic.name, {
      manager: 'ifupdown',
      active: ifupdownUp(paths.ifupdownRunDir, nic.name),
      atBoot: starts.length > 0,
      file: first.file,
      line: first.line,
      detail: `ifupdown: ${entries.map((e) => `${e.file}:${e.line}: ${e.text}`).join('; ')}`,
    }]);
  }
  return out;
}

// ---------------------------------------------------------------------------
// DHCP clients

const DHCP_CLIENTS = new Set(['dhclient', 'dhclient3', 'dhcpcd', 'dhcpcd5', 'udhcpc', 'dhcpcd-bin']);

function dhcpClaims(nics: readonly NicIdentity[], procs: ProcInfo[]): [string, ManagerClaim][] {
  const out: [string, ManagerClaim][] = [];
  for (const p of procs) {
    const prog = programOf(p);
    if (!DHCP_CLIENTS.has(prog) && !DHCP_CLIENTS.has(p.comm)) continue;
    const tokens = p.argv.slice(1).flatMap((a) => a.split(/\s+/)).flatMap((t) => [t, t.replace(/^--?[A-Za-z-]+=/, '')]);
    if (p.argv.length === 1) tokens.push(...(p.argv[0] ?? '').split(/\s+/).slice(1)); // a rewritten title: "dhcpcd: eth1 [ip4]"
    const named = nics.filter((n) => tokens.includes(n.name));
    // A client started without an interface name serves every interface.
    const bare = p.argv.slice(1).flatMap((a) => a.split(/\s+/)).filter((t) => /^[A-Za-z][\w.@-]*$/.test(t) && !t.includes('='));
    const targets = named.length > 0 ? named : bare.length === 0 ? nics : [];
    const cmd = p.argv.join(' ');
    for (const nic of targets) {
      out.push([nic.name, {
        manager: 'dhcp-client',
        active: true,
        atBoot: false,
        pid: p.pid,
        detail: `${prog} (pid ${p.pid}${named.length === 0 ? ', all interfaces' : ''}): ${cmd.length > 160 ? `${cmd.slice(0, 157)}...` : cmd}`,
      }]);
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// netplan

export interface NetplanMention {
  file: string;
  line: number;
  text: string;
}

/**
 * Lines of a netplan YAML file that select the NIC: its name as a key
 * (`eth1:`), `set-name: eth1`, `macaddress: <its MAC>`, or a `name:` glob
 * that matches it. A text scan, not a YAML parser: good enough to point at
 * the line to change.
 */
export function netplanMentions(text: string, file: string, nic: NicIdentity): NetplanMention[] {
  const out: NetplanMention[] = [];
  const macs = [nic.mac, nic.permanentMac].filter((m): m is string => !!m).map(normMac);
  const unq = (v: string) => v.trim().replace(/^(["'])(.*)\1$/, '$2');
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\s+#.*$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    let hit = false;
    const key = /^\s+(["']?)([^\s:"']+)\1:\s*$/.exec(line);
    if (key && key[2] === nic.name) hit = true;
    const kv = /^\s*-?\s*([A-Za-z-]+):\s*(.+)$/.exec(line);
    if (kv) {
      const k = kv[1]!;
      const v = unq(kv[2]!);
      if (k === 'set-name' && v === nic.name) hit = true;
      if (k === 'macaddress' && macs.includes(normMac(v))) hit = true;
      if (k === 'name' && globRegex(v).test(nic.name)) hit = true;
    }
    if (hit) out.push({ file, line: i + 1, text: t });
  }
  return out;
}

function netplanClaims(nics: readonly NicIdentity[], paths: HostPaths): [string, ManagerClaim][] {
  const byName = new Map<string, string>();
  for (const dir of paths.netplanDirs) {
    try {
      for (const n of readdirSync(dir)) if (n.endsWith('.yaml') && !byName.has(n)) byName.set(n, join(dir, n));
    } catch {
      /* no such dir */
    }
  }
  const files: [string, string][] = [];
  for (const n of [...byName.keys()].sort()) {
    try {
      files.push([byName.get(n)!, readFileSync(byName.get(n)!, 'utf8')]);
    } catch {
      /* unreadable */
    }
  }
  const out: [string, ManagerClaim][] = [];
  for (const nic of nics) {
    const m = files.flatMap(([f, text]) => netplanMentions(text, f, nic));
    if (m.length === 0) continue;
    out.push([nic.name, {
      manager: 'netplan',
      active: false,
      atBoot: true,
      file: m[0]!.file,
      line: m[0]!.line,
      detail: `netplan: ${m.map((x) => `${basename(x.file)}:${x.line}: ${x.text}`).join('; ')}`,
    }]);
  }
  return out;
}
