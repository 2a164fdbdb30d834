/**
 * Honest, comparable snapshots of a network namespace: links (with their
 * addresses and per-interface sysctls), routes of every table, policy rules,
 * and the namespace-wide `all`/`default` sysctls.
 *
 *     const before = await snapshot(lab.host);
 *     ... attach, detach ...
 *     expect(await snapshot(lab.host)).toEqual(before);
 *
 * Only what is volatile is normalized away (see NORMALIZED below); everything
 * a tool could get wrong is kept. Read as JSON (`ip -json`), never scraped.
 */
import { mustInNs, delay, inNs } from './run.js';

/** The per-interface sysctls kept in a snapshot (read from /proc/sys/net/<family>/conf/<if>/<key>). */
export const SYSCTL_KEYS = {
  ipv4: ['arp_ignore', 'arp_announce', 'arp_notify', 'rp_filter', 'forwarding'],
  ipv6: ['ndisc_notify', 'accept_ra', 'disable_ipv6', 'forwarding'],
} as const;

/**
 * What the snapshot drops or rewrites, and why. Everything else is compared.
 *
 * - link `qdisc`: "noop" while down, the default qdisc once up; a netns move
 *   resets it anyway (dev_shutdown), and hostnic does not manage qdiscs.
 * - link `stats`/`stats64`: counters (only present with -s; dropped for safety).
 * - bridge timers (`hello_timer`, `tcn_timer`, `topology_change_timer`,
 *   `gc_timer`) and bridge-port timers (`forward_delay_timer`, `hold_timer`,
 *   `message_age_timer`) tick in real time; `mcast_n_groups` counts learned
 *   multicast groups.
 * - address `valid_life_time`/`preferred_life_time`: count down for finite
 *   lifetimes; replaced by 'forever' | 'finite', so a tool that restores a
 *   permanent address as a temporary one is still caught.
 * - route `expires`: counts down (RA-learned routes).
 *
 * Kept on purpose: ifindex, name, MAC, permaddr, MTU, flags (UP, LOWER_UP,
 * NO-CARRIER), operstate, ifalias, altnames,
 * link_netnsid, master, promiscuity, txqlen, addresses with prefix, scope,
 * label and flags (secondary, nodad, noprefixroute, dadfailed, ...), routes
 * of every table including `local` (they follow from the addresses, so they
 * are deterministic once DAD is over), rules and the sysctls.
 *
 * Two things are timing-dependent, and instead of dropping them snapshot()
 * waits (polls every 100 ms, up to `settleMs`) until they settle (see
 * unsettled()): operstate/NO-CARRIER lagging the carrier (linkwatch), and
 * `tentative` addresses during IPv6 DAD on a running link. `tentative` on a
 * link without carrier is stable state and kept. Whatever has not settled by
 * the deadline stays in the snapshot, so the comparison shows it.
 */
export const NORMALIZED = {
  link: ['qdisc', 'stats', 'stats64'],
  bridgeTimers: ['hello_timer', 'tcn_timer', 'topology_change_timer', 'gc_timer'],
  portTimers: ['forward_delay_timer', 'hold_timer', 'message_age_timer', 'mcast_n_groups'],
  addr: ['valid_life_time', 'preferred_life_time'],
  route: ['expires'],
} as const;

export interface SnapshotAddr {
  family: string;
  local: string;
  prefixlen: number;
  scope?: string;
  /** 'forever' or 'finite' (the countdown itself is dropped). */
  valid_life_time?: string;
  preferred_life_time?: string;
  [key: string]: unknown;
}

export interface SnapshotLink {
  ifname: string;
  ifindex: number;
  /** Sorted. */
  flags: string[];
  mtu: number;
  address?: string;
  ifalias?: string;
  altnames?: string[];
  operstate?: string;
  /** Sorted by family, then address, then prefix length. */
  addrs: SnapshotAddr[];
  /** 'ipv4.arp_ignore' -> '1', ... (absent keys: no such file, e.g. IPv6 off). */
  sysctl: Record<string, string>;
  [key: string]: unknown;
}

export interface SnapshotRoute {
  dst: string;
  [key: string]: unknown;
}

export interface Snapshot {
  /** Sorted by name. */
  links: SnapshotLink[];
  /** `ip -4 route show table all`, every table, sorted. */
  routes4: SnapshotRoute[];
  /** `ip -6 route show table all`, every table, sorted. */
  routes6: SnapshotRoute[];
  rules4: Record<string, unknown>[];
  rules6: Record<string, unknown>[];
  /** The namespace-wide conf/all and conf/default sysctls, same keys as per link. */
  conf: { all: Record<string, string>; default: Record<string, string> };
}

type Json = Record<string, unknown>;

/** What snapshot() reads, before normalize(). */
export interface Raw {
  links: Json[];
  addrs: Json[];
  routes4: Json[];
  routes6: Json[];
  rules4: Json[];
  rules6: Json[];
  sysctl: Map<string, string>;
}

async function ipJson(ns: string, args: string[]): Promise<Json[]> {
  const out = (await mustInNs(ns, ['ip', ...args])).trim();
  return out === '' ? [] : (JSON.parse(out) as Json[]);
}

/** Read every sysctl file of the given conf dirs in one process: "path:value" lines. */
async function readSysctls(ns: string, dirs: string[]): Promise<Map<string, string>> {
  const files: string[] = [];
  for (const dir of dirs) {
    for (const fam of ['ipv4', 'ipv6'] as const) {
      for (const key of SYSCTL_KEYS[fam]) files.push(`/proc/sys/net/${fam}/conf/${dir}/${key}`);
    }
  }
  // grep -H prints "file:value"; -s: a missing file (IPv6 disabled, link gone) is not an error.
  const r = await inNs(ns, ['grep', '-H', '-s', '', ...files]);
  if (r.exitCode > 2 || (r.exitCode === 2 && r.stdout === '')) {
    throw new Error(`reading sysctls in ${ns} failed: ${r.stderr}`);
  }
  const map = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const i = line.lastIndexOf(':'); // interface names cannot contain ':'
    if (i > 0) map.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return map;
}

async function readRaw(ns: string): Promise<Raw> {
  const [links, addrs, routes4, routes6, rules4, rules6] = await Promise.all([
    ipJson(ns, ['-d', '-json', 'link', 'show']),
    ipJson(ns, ['-json', 'addr', 'show']),
    ipJson(ns, ['-4', '-json', 'route', 'show', 'table', 'all']),
    ipJson(ns, ['-6', '-json', 'route', 'show', 'table', 'all']),
    ipJson(ns, ['-4', '-json', 'rule', 'show']),
    ipJson(ns, ['-6', '-json', 'rule', 'show']),
  ]);
  const names = links.map((l) => String(l.ifname));
  const sysctl = await readSysctls(ns, ['all', 'default', ...names]);
  return { links, addrs, routes4, routes6, rules4, rules6, sysctl };
}

/**
 * What is still in flight, as "ifname: reason" strings; empty when settled.
 *
 * - linkwatch lag: the kernel applies carrier changes to operstate (and to
 *   IFF_RUNNING, which `ip` shows as NO-CARRIER) from a work queue. Events it
 *   deems non-urgent (e.g. a veth whose ifindex equals its peer's, a physical
 *   NIC) wait up to a second, longer under load; meanwhile a link reads
 *   `UP,LOWER_UP` together with `NO-CARRIER` and operstate DOWN, and IPv6 has
 *   not made its link-local address yet (observed on this kernel).
 * - IPv6 DAD: addresses on a running link are `tentative` (or `optimistic`)
 *   for up to ~2 s; their `local` routes appear only when DAD ends, so an
 *   address read as settled without its local route was read (in parallel
 *   with the routes) just as DAD ended: read again.
 */
export function unsettled(raw: Pick<Raw, 'addrs'> & Partial<Pick<Raw, 'routes6'>>): string[] {
  const out: string[] = [];
  // The local routes IPv6 has made (one per address, once its DAD ended).
  const local6 = new Set((raw.routes6 ?? []).filter((r) => r.type === 'local').map((r) => `${String(r.dev)} ${String(r.dst)}`));
  for (const l of raw.addrs) {
    const name = String(l.ifname);
    const flags = (l.flags as string[] | undefined) ?? [];
    const op = l.operstate as string | undefined;
    const up = flags.includes('UP');
    const carrier = flags.includes('LOWER_UP');
    if (op !== undefined && op !== 'UNKNOWN') {
      const operUp = op === 'UP';
      if (up && carrier && (!operUp || flags.includes('NO-CARRIER'))) out.push(`${name}: carrier not yet in operstate (${op})`);
      else if ((!up || !carrier) && operUp) out.push(`${name}: down not yet in operstate`);
    }
    if (!up || !carrier || flags.includes('NO-CARRIER')) continue; // DAD does not run: tentative is stable state
    for (const a of (l.addr_info as Json[] | undefined) ?? []) {
      if ((a.tentative || a.optimistic) && !a.dadfailed) out.push(`${name}: ${String(a.local)} in DAD`);
      // Addresses and routes are read side by side: DAD may have ended between the two reads.
      else if (raw.routes6 && a.family === 'inet6' && !a.dadfailed && !local6.has(`${name} ${String(a.local)}`)) {
        out.push(`${name}: ${String(a.local)} settled, its local route not read yet`);
      }
    }
  }
  return out;
}

function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon((v as Json)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** A deep copy with object keys in sorted order (stable printing and diffs). */
function sortKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(sortKeys) as T;
  if (v && typeof v === 'object') {
    const o: Json = {};
    for (const k of Object.keys(v).sort()) o[k] = sortKeys((v as Json)[k]);
    return o as T;
  }
  return v;
}

function omit(o: Json, keys: readonly string[]): Json {
  const c: Json = { ...o };
  for (const k of keys) delete c[k];
  return c;
}

const FOREVER = 4294967295;
function lifetime(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  return v === FOREVER ? 'forever' : 'finite';
}

function normAddr(a: Json): SnapshotAddr {
  const c = omit(a, NORMALIZED.addr);
  const valid = lifetime(a.valid_life_time);
  const preferred = lifetime(a.preferred_life_time);
  if (valid) c.valid_life_time = valid;
  if (preferred) c.preferred_life_time = preferred;
  return c as SnapshotAddr;
}

function normLinkinfo(info: Json | undefined): Json | undefined {
  if (!info) return info;
  const c: Json = { ...info };
  if (c.info_data && typeof c.info_data === 'object') c.info_data = omit(c.info_data as Json, NORMALIZED.bridgeTimers);
  if (c.info_slave_data && typeof c.info_slave_data === 'object') {
    c.info_slave_data = omit(c.info_slave_data as Json, NORMALIZED.portTimers);
  }
  return c;
}

function sysctlsOf(map: Map<string, string>, dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const fam of ['ipv4', 'ipv6'] as const) {
    for (const key of SYSCTL_KEYS[fam]) {
      const v = map.get(`/proc/sys/net/${fam}/conf/${dir}/${key}`);
      if (v !== undefined) out[`${fam}.${key}`] = v;
    }
  }
  return out;
}

function byCanon<T>(a: T, b: T): number {
  const x = canon(a);
  const y = canon(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function normalize(raw: Raw): Snapshot {
  const addrsByIndex = new Map<number, Json[]>();
  for (const l of raw.addrs) addrsByIndex.set(Number(l.ifindex), (l.addr_info as Json[] | undefined) ?? []);

  const links: SnapshotLink[] = raw.links.map((l) => {
    const c = omit(l, NORMALIZED.link);
    if (Array.isArray(c.flags)) c.flags = [...(c.flags as string[])].sort();
    if (Array.isArray(c.altnames)) c.altnames = [...(c.altnames as string[])].sort();
    const info = normLinkinfo(c.linkinfo as Json | undefined);
    if (info) c.linkinfo = info;
    const addrs = (addrsByIndex.get(Number(l.ifindex)) ?? []).map(normAddr);
    addrs.sort((a, b) => {
      if (a.family !== b.family) return a.family < b.family ? -1 : 1;
      if (a.local !== b.local) return a.local < b.local ? -1 : 1;
      if (a.prefixlen !== b.prefixlen) return a.prefixlen - b.prefixlen;
      return byCanon(a, b);
    });
    c.addrs = addrs;
    c.sysctl = sysctlsOf(raw.sysctl, String(l.ifname));
    return c as SnapshotLink;
  });
  links.sort((a, b) => (a.ifname < b.ifname ? -1 : a.ifname > b.ifname ? 1 : a.ifindex - b.ifindex));

  const routes = (rs: Json[]) => rs.map((r) => omit(r, NORMALIZED.route) as SnapshotRoute).sort(byCanon);
  const rules = (rs: Json[]) =>
    [...rs].sort((a, b) => Number(a.priority ?? 0) - Number(b.priority ?? 0) || byCanon(a, b));

  return sortKeys({
    links,
    routes4: routes(raw.routes4),
    routes6: routes(raw.routes6),
    rules4: rules(raw.rules4),
    rules6: rules(raw.rules6),
    conf: { all: sysctlsOf(raw.sysctl, 'all'), default: sysctlsOf(raw.sysctl, 'default') },
  });
}

export interface SnapshotOptions {
  /** How long to wait for IPv6 DAD to finish on running links (default 6000 ms). */
  settleMs?: number;
}

/**
 * Snapshot a network namespace: a name in /run/netns, or a path such as
 * /proc/PID/ns/net. Waits (polling) for IPv6 DAD to settle first. readRaw()
 * reads addresses and routes in parallel, so DAD can end between the two
 * (the addresses no longer tentative, the routes read just before their
 * `local` route appeared: seen once in 120 under load, the likely cause of a
 * rare flake of cni-runtimes' podman test): unsettled() reads such an
 * address as not settled yet, so one read is enough when nothing moves.
 */
export async function snapshot(ns: string, opts: SnapshotOptions = {}): Promise<Snapshot> {
  const deadline = Date.now() + (opts.settleMs ?? 6000);
  let raw = await readRaw(ns);
  while (unsettled(raw).length > 0 && Date.now() < deadline) {
    await delay(100);
    raw = await readRaw(ns);
  }
  return normalize(raw);
}

/** The link called `ifname` in a snapshot, if any. */
export function linkOf(snap: Snapshot, ifname: string): SnapshotLink | undefined {
  return snap.links.find((l) => l.ifname === ifname);
}
