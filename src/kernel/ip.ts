/**
 * Read links, addresses, routes and sysctls as data (`ip -json`), in hostnic's
 * own namespace or in another one given by path. Read-only: changes are made
 * by steps, as Cmd arrays.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { read, readBatch, readJson, type Cmd } from '../exec.js';
import { familyOf, type Family } from '../request/types.js';
import { ownPid } from '../state.js';

export interface Link {
  ifindex: number;
  ifname: string;
  flags: string[];
  mtu: number;
  address?: string;
  permaddr?: string;
  operstate?: string;
  min_mtu?: number;
  max_mtu?: number;
  ifalias?: string;
  link?: string | null;
  link_netnsid?: number;
  altnames?: string[];
  parentbus?: string;
  parentdev?: string;
  linkinfo?: { info_kind?: string; info_slave_kind?: string };
  /** The bridge or bond it is a port of. */
  master?: string;
  link_type?: string;
}

export interface AddrInfo {
  family: 'inet' | 'inet6';
  local: string;
  /** The peer, for an address added with `peer`. */
  address?: string;
  prefixlen: number;
  scope?: string;
  broadcast?: string;
  label?: string;
  dynamic?: boolean;
  noprefixroute?: boolean;
  tentative?: boolean;
  dadfailed?: boolean;
  nodad?: boolean;
  home?: boolean;
  mngtmpaddr?: boolean;
  valid_life_time?: number;
  preferred_life_time?: number;
}

export interface LinkAddrs extends Link {
  addr_info: AddrInfo[];
}

export interface Route {
  type?: string;
  dst: string;
  gateway?: string;
  via?: { family: string; host: string };
  dev?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  table?: string;
  flags?: string[];
  pref?: string;
  /** A multipath route's hops (it then has no `dev` of its own). */
  nexthops?: { gateway?: string; via?: { family: string; host: string }; dev?: string; weight?: number; flags?: string[] }[];
  /**
   * Route metrics (`mtu`, `advmss`, ...), as `ip -json` prints them: one
   * object. Some iproute2 versions print a locked metric as `{lock, value}`.
   */
  metrics?: Record<string, number | string | { lock?: boolean; value: number }>[];
  /** Seconds left, for a route that expires (learned from a router advertisement). */
  expires?: number;
}

// One definition, in the request layer (pure, no imports); re-exported for the steps and observe.
export { familyOf, type Family };

/** A command that runs `ip` in the given namespace (undefined: hostnic's own). */
export function ipCmd(ns: string | undefined, args: readonly string[], tolerate?: RegExp): Cmd {
  return { argv: ['ip', ...args], netns: ns, tolerate };
}

export function links(ns?: string): Promise<Link[]> {
  return readJson<Link[]>(ipCmd(ns, ['-d', '-json', 'link', 'show']));
}

export function addrs(ns?: string, dev?: string): Promise<LinkAddrs[]> {
  return readJson<LinkAddrs[]>(ipCmd(ns, ['-json', 'addr', 'show', ...(dev ? ['dev', dev] : [])]));
}

/** Default routes of one family in the main table. */
export async function defaultRoutes(ns: string | undefined, family: Family): Promise<Route[]> {
  return readJson<Route[]>(ipCmd(ns, [`-${family}`, '-json', 'route', 'show', 'default']));
}

/**
 * Route metrics `ip route add` takes back as `ip -json` prints them (plain
 * numbers, or a name for congctl; `lock` kept where the JSON carries it).
 * rtt, rttvar and rto_min are printed in another unit than they are given:
 * those are not restored.
 */
const METRIC_KEYS = new Set(['mtu', 'advmss', 'window', 'reordering', 'hoplimit', 'initcwnd', 'initrwnd', 'quickack',
  'ssthresh', 'cwnd', 'fastopen_no_cookie', 'congctl']);

/**
 * Arguments that re-create a route read from `ip -json route` (everything
 * after `ip -4 route add`), on the device `dev`. A multipath route keeps
 * its own hops (each on its device) and `dev` is not used.
 */
export function routeArgs(r: Route, dev: string): string[] {
  const args: string[] = [];
  if (r.type && r.type !== 'unicast') args.push(r.type);
  // "default" would be read as IPv4 by a plain `ip route`: name the family's prefix.
  args.push(r.dst === 'default' ? (r.pref !== undefined ? '::/0' : '0.0.0.0/0') : r.dst);
  const hops = r.nexthops ?? [];
  if (!hops.length) {
    const gw = r.gateway ?? r.via?.host;
    if (gw) args.push('via', gw);
    args.push('dev', dev);
  }
  if (r.protocol && r.protocol !== 'boot') args.push('proto', r.protocol);
  if (r.scope && r.scope !== 'global' && r.scope !== 'universe') args.push('scope', r.scope);
  if (r.prefsrc) args.push('src', r.prefsrc);
  if (r.metric !== undefined) args.push('metric', String(r.metric));
  if (r.table && r.table !== 'main') args.push('table', r.table);
  for (const m of r.metrics ?? []) {
    for (const [k, v] of Object.entries(m)) {
      if (!METRIC_KEYS.has(k)) continue;
      if (typeof v === 'object') args.push(k, ...(v.lock ? ['lock'] : []), String(v.value));
      else args.push(k, String(v));
    }
  }
  if (!hops.length && r.flags?.includes('onlink')) args.push('onlink');
  if (r.pref) args.push('pref', r.pref);
  // `nexthop` takes the rest of the command line: last.
  for (const h of hops) {
    args.push('nexthop');
    const gw = h.gateway ?? h.via?.host;
    if (gw) args.push('via', gw);
    if (h.dev) args.push('dev', h.dev);
    if (h.weight !== undefined && h.weight !== 1) args.push('weight', String(h.weight));
    if (h.flags?.includes('onlink')) args.push('onlink');
  }
  return args;
}

/**
 * `ip addr add` arguments that re-create an address read from `ip -json
 * addr`, first item `LOCAL/PREFIX`, flags and attributes kept (peer,
 * broadcast, scope, label, noprefixroute, nodad, home, mngtmpaddr). A
 * finite lifetime is not in them: it is a deadline (addrExpiry), and what is
 * left of it is given when the address is added (steps/addr.ts).
 */
export function addrArgs(a: AddrInfo, dev: string): string[] {
  const args = [`${a.local}/${a.prefixlen}`];
  if (a.address && a.address !== a.local) args.push('peer', `${a.address}/${a.prefixlen}`);
  if (a.family === 'inet' && a.broadcast) args.push('broadcast', a.broadcast);
  if (a.scope && a.scope !== 'global') args.push('scope', a.scope);
  if (a.label && a.label !== dev) args.push('label', a.label);
  for (const flag of ['noprefixroute', 'nodad', 'home', 'mngtmpaddr'] as const) if (a[flag]) args.push(flag);
  args.push('dev', dev);
  return args;
}

/** When a finite address lifetime ends: absolute times in seconds since the epoch. */
export interface AddrExpiry {
  valid: number;
  preferred: number;
}

/** The deadlines of an address with a finite lifetime (DHCP, SLAAC) read at `now` (seconds), or undefined for a permanent one. */
export function addrExpiry(a: AddrInfo, now: number): AddrExpiry | undefined {
  if (a.valid_life_time === undefined || a.valid_life_time >= FOREVER) return undefined;
  const preferred = Math.min(a.preferred_life_time ?? a.valid_life_time, a.valid_life_time);
  return { valid: now + a.valid_life_time, preferred: now + preferred };
}

/** The kernel's "forever" lifetime (INFINITY_LIFE_TIME). */
const FOREVER = 0xffffffff;

export function isUp(link: Link): boolean {
  return link.flags.includes('UP');
}

/** Identity of a network namespace file: device and inode, stable while it lives. */
export function netnsId(path: string): string {
  const st = statSync(path);
  return `${st.dev}:${st.ino}`;
}

/** netnsId of any namespace file (/proc/PID/ns/pid too), or undefined when it cannot be read (its process is gone). */
export function nsIdOf(path: string): string | undefined {
  try {
    return netnsId(path);
  } catch {
    return undefined;
  }
}

/** The namespace hostnic runs in, as a path that stays valid while it runs. */
export function ownNetns(): string {
  return `/proc/${ownPid()}/ns/net`;
}

let lasting: string | undefined;

/**
 * The namespace hostnic runs in, by a path that outlives hostnic: the
 * destination of the commands that move a NIC back to it, which a rollback
 * prints for a person to run after hostnic has exited (when
 * /proc/<hostnic's pid> is gone). /proc/1/ns/net when hostnic runs in the
 * initial namespace (a host); else a name under /run/netns; else the lowest
 * other process in it; hostnic's own entry only when nothing else is there.
 */
export function lastingOwnNetns(): string {
  if (lasting) return lasting;
  const own = netnsId(ownNetns());
  const same = (path: string): boolean => {
    try {
      return netnsId(path) === own;
    } catch {
      return false;
    }
  };
  const names = (dir: string): string[] => {
    try {
      return readdirSync(dir).sort();
    } catch {
      return [];
    }
  };
  // Lazily: on a host the first one is it.
  const candidates = function* (): Generator<string> {
    yield '/proc/1/ns/net';
    for (const n of names('/run/netns')) yield `/run/netns/${n}`;
    const pids = names('/proc').filter((n) => /^\d+$/.test(n) && Number(n) !== ownPid()).sort((a, b) => Number(a) - Number(b));
    for (const pid of pids) yield `/proc/${pid}/ns/net`;
  };
  for (const path of candidates()) {
    if (same(path)) return (lasting = path);
  }
  return (lasting = ownNetns());
}

/**
 * Sysctl keys are written with slashes (net/ipv4/conf/eth1/arp_notify), so an
 * interface name with a dot in it stays one path component.
 */
export function ownSysctl(key: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${key}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * Sysctls (slash keys) of hostnic's namespace (`ns` undefined) or another
 * one; keys that do not exist are absent from the map. /proc/sys shows the
 * namespace of the process that opens it: hostnic's own is plain file reads,
 * another one is one `nsenter --net=NS grep -H '' FILE...` for all keys.
 */
export async function readSysctls(ns: string | undefined, keys: readonly string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!ns) {
    for (const key of keys) {
      const value = ownSysctl(key);
      if (value !== undefined) out.set(key, value);
    }
    return out;
  }
  if (keys.length === 0) return out;
  const files = keys.map((k) => `/proc/sys/${k}`);
  // grep exits 2 when a file is missing; those keys are simply absent.
  const text = await read({ argv: ['grep', '-H', '', ...files], netns: ns, tolerate: /No such file or directory/ });
  for (const line of text.split('\n')) {
    for (const [i, file] of files.entries()) {
      if (line.startsWith(`${file}:`)) out.set(keys[i]!, line.slice(file.length + 1).trim());
    }
  }
  return out;
}

/** Read one sysctl (slash key) in a namespace; undefined when it does not exist or cannot be read. */
export async function nsSysctl(ns: string | undefined, key: string): Promise<string | undefined> {
  if (!ns) return ownSysctl(key);
  try {
    return (await readSysctls(ns, [key])).get(key);
  } catch {
    return undefined;
  }
}

/** A neighbour entry as `ip -json neigh` shows it. */
export interface Neigh {
  dst: string;
  dev?: string;
  lladdr?: string;
  state?: string[];
}

/** Links, addresses, routes and permanent neighbour entries of one namespace, read once (two processes). */
export interface NsState {
  links: LinkAddrs[];
  routes4: Route[];
  routes6: Route[];
  /** Permanent neighbour entries (absent in states built by hand). */
  neigh?: Neigh[];
}

const notLocal = (r: Route): boolean =>
  r.table !== 'local' && r.type !== 'local' && r.type !== 'broadcast' && r.type !== 'multicast';

/**
 * One process: `ip route show table all` without a family lists both
 * families. A route's family is told by the kernel's RTA_PREF, which only
 * IPv6 routes carry (`pref` in the JSON): a gateway-less default route
 * gives no other clue.
 */
export async function readNs(ns?: string): Promise<NsState> {
  const [links, addrList, routes, neigh] = await readBatch<[Link[], LinkAddrs[], Route[], Neigh[]]>(
    ['-d'], [['link', 'show'], ['addr', 'show'], ['route', 'show', 'table', 'all'], ['neigh', 'show', 'nud', 'permanent']], ns);
  const byIndex = new Map(addrList.map((a) => [a.ifindex, a.addr_info ?? []]));
  const own = routes.filter(notLocal);
  return {
    links: links.map((l) => ({ ...l, addr_info: byIndex.get(l.ifindex) ?? [] })),
    routes4: own.filter((r) => r.pref === undefined),
    routes6: own.filter((r) => r.pref !== undefined),
    neigh,
  };
}

/** The links the routes go out through, a multipath route's hops included. */
export function routeDevices(routes: Route[]): Set<string> {
  return new Set(routes.flatMap((r) => [r.dev, ...(r.nexthops ?? []).map((h) => h.dev)]).filter((d): d is string => !!d));
}

/**
 * A route's destination with its prefix length: `ip -json` prints a host
 * route without one (169.254.169.254, not 169.254.169.254/32), as hostnic's
 * requests never write it.
 */
export function routeDst(r: Pick<Route, 'dst'>): string {
  if (r.dst === 'default' || r.dst.includes('/')) return r.dst;
  return `${r.dst}/${r.dst.includes(':') ? 128 : 32}`;
}

/** Default routes of the main table. */
export function mainDefaults(routes: Route[]): Route[] {
  return routes.filter((r) => r.dst === 'default' && (r.table === undefined || r.table === 'main'));
}
