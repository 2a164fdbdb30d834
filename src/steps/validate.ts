/**
 * A journal, a record, a fix record: input, not truth. Before anything runs
 * from one, every step it holds is checked against the schema of its kind:
 * the kind is known, the id well formed, every param has the type and form
 * hostnic writes (interface names, addresses, namespaces, sysctl keys under
 * net/ipv{4,6}/conf), a file is written only where hostnic writes files
 * (`Bounds.managesFile`: doctor's files, the desired-state file), with a mode
 * hostnic sets. A step that fails is never run (runner/journal.ts,
 * records.ts, doctor/records.ts report the file and why, in one line).
 *
 * Pure: what the state directory and the managed files are is given.
 */
import { dirname } from 'node:path';
import type { KindName } from './types.js';
import {
  HEX_ID, Invalid, PRIVATE_NS, fail, isIfName, needArray, needBool, needCidr, needDst, needFinite, needHexId, needIfName, needInt, needIp,
  needLinkAddr, needMac, needMtu, needNs, needObject, needString, needToken, needWord,
} from './shapes.js';
import { q } from '../request/text.js';
import { dhcpSchemas } from './validate-dhcp.js';

export { Invalid } from './shapes.js';

/** What is outside the state directory that a step may write. */
export interface Bounds {
  /** Whether `path` (absolute, plain form) is a file hostnic manages (host/paths.ts managedFiles). */
  managesFile(path: string): boolean;
}

type Check = (p: Record<string, unknown>, at: string) => void;
export interface KindSchema {
  required: string[];
  optional?: string[];
  params: Check;
  /** What its capture saved (absent: the kind saves nothing). */
  saved?: (v: unknown, at: string, params: Record<string, unknown>) => void;
}

const METRIC_KEYS = new Set(['mtu', 'advmss', 'window', 'reordering', 'hoplimit', 'initcwnd', 'initrwnd', 'quickack',
  'ssthresh', 'cwnd', 'fastopen_no_cookie', 'congctl']);
const ROUTE_TYPES = new Set(['unicast', 'local', 'broadcast', 'multicast', 'throw', 'unreachable', 'prohibit', 'blackhole', 'nat', 'anycast']);
const ADDR_FLAGS = new Set(['noprefixroute', 'nodad', 'home', 'mngtmpaddr']);

/** The arguments after `ip route add` that kernel/ip.ts routeArgs and the attach planner write. */
export function checkRouteArgs(args: unknown, at: string): void {
  const a = needArray(args, at, { min: 1, max: 256 }).map((t, i) => needToken(t, `${at}[${i}]`));
  let i = 0;
  if (ROUTE_TYPES.has(a[0]!)) i++;
  needDst(a[i], `${at}[${i}]`);
  i++;
  let hop = false;
  const value = (check: (v: unknown, at: string) => unknown): void => {
    check(a[i + 1], `${at}[${i + 1}]`);
    i += 2;
  };
  while (i < a.length) {
    const k = a[i]!;
    if (k === 'nexthop') { hop = true; i++; }
    else if (k === 'onlink') i++;
    else if (k === 'via') value(needIp);
    else if (k === 'dev') value(needIfName);
    else if (k === 'weight' && hop) value((v, w) => needUint(v, w, 256));
    else if (hop) fail(`${at}[${i}]`, `${q(k)} is not an argument of a next hop`);
    else if (k === 'src') value(needIp);
    else if (k === 'metric') value((v, w) => needUint(v, w, 0xffffffff));
    else if (METRIC_KEYS.has(k) && a[i + 1] === 'lock') { i++; value(needWord); } // a locked metric (kernel/ip.ts routeArgs)
    else if (k === 'proto' || k === 'scope' || k === 'table' || METRIC_KEYS.has(k)) value(needWord);
    else if (k === 'pref') value((v, w) => (['low', 'medium', 'high'].includes(v as string) ? v : fail(w, 'not low, medium or high')));
    else fail(`${at}[${i}]`, `${q(k)} is not a route argument hostnic writes`);
  }
}

/** The arguments before `dev` of `ip addr add` that kernel/ip.ts addrArgs writes. */
function checkAddrArgs(args: unknown, at: string): void {
  const a = needArray(args, at, { min: 1, max: 16 }).map((t, i) => needToken(t, `${at}[${i}]`));
  needCidr(a[0], `${at}[0]`);
  for (let i = 1; i < a.length;) {
    const k = a[i]!;
    const next = (check: (v: unknown, w: string) => unknown): void => {
      check(a[i + 1], `${at}[${i + 1}]`);
      i += 2;
    };
    if (ADDR_FLAGS.has(k)) i++;
    else if (k === 'peer') next((v, w) => (typeof v === 'string' && v.includes('/') ? needCidr(v, w) : needIp(v, w)));
    else if (k === 'broadcast') next(needIp);
    else if (k === 'scope') next(needWord);
    else if (k === 'label') next((v, w) => needToken(v, w, 15));
    else fail(`${at}[${i}]`, `${q(k)} is not an address argument hostnic writes`);
  }
}

/** A route as `ip -json route` shows it (what route.default keeps): the fields routeArgs uses are checked, others ignored. */
function checkRoute(v: unknown, at: string): void {
  const r = needObject(v, at, ['dst'], Object.keys(v ?? {}));
  needDst(r.dst, `${at}.dst`);
  if (r.gateway !== undefined) needIp(r.gateway, `${at}.gateway`);
  if (r.via !== undefined) needIp(needObject(r.via, `${at}.via`, ['host'], ['family']).host, `${at}.via.host`);
  if (r.dev !== undefined) needIfName(r.dev, `${at}.dev`);
  if (r.prefsrc !== undefined) needIp(r.prefsrc, `${at}.prefsrc`);
  if (r.metric !== undefined) needInt(r.metric, `${at}.metric`, 0, 0xffffffff);
  for (const k of ['type', 'protocol', 'scope', 'table', 'pref'] as const) if (r[k] !== undefined) needWord(String(r[k]), `${at}.${k}`);
  if (r.flags !== undefined) needArray(r.flags, `${at}.flags`).forEach((f, i) => needWord(f, `${at}.flags[${i}]`));
  if (r.metrics !== undefined) {
    needArray(r.metrics, `${at}.metrics`).forEach((m, i) => {
      for (const [k, x] of Object.entries(needObject(m, `${at}.metrics[${i}]`, [], Object.keys(m ?? {})))) {
        if (!METRIC_KEYS.has(k)) continue;
        // Some iproute2 versions print a locked metric as {lock, value}.
        const v = typeof x === 'object' && x !== null ? needObject(x, `${at}.metrics[${i}].${k}`, ['value'], ['lock']).value : x;
        needWord(String(v), `${at}.metrics[${i}].${k}`);
      }
    });
  }
  if (r.nexthops !== undefined) {
    needArray(r.nexthops, `${at}.nexthops`).forEach((h, i) => {
      const n = needObject(h, `${at}.nexthops[${i}]`, [], Object.keys(h ?? {}));
      if (n.gateway !== undefined) needIp(n.gateway, `${at}.nexthops[${i}].gateway`);
      if (n.via !== undefined) needIp(needObject(n.via, `${at}.nexthops[${i}].via`, ['host'], ['family']).host, `${at}.nexthops[${i}].via.host`);
      if (n.dev !== undefined) needIfName(n.dev, `${at}.nexthops[${i}].dev`);
      if (n.weight !== undefined) needInt(n.weight, `${at}.nexthops[${i}].weight`, 1, 256);
      if (n.flags !== undefined) needArray(n.flags, `${at}.nexthops[${i}].flags`).forEach((f, j) => needWord(f, `${at}.nexthops[${i}].flags[${j}]`));
    });
  }
}

/** A whole number written in decimal, as an argument. */
const needUint = (v: unknown, at: string, max: number): number => {
  if (typeof v !== 'string' || !/^\d{1,10}$/.test(v) || Number(v) > max) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not a whole number in 0..${max}`);
  return Number(v);
};

const needFamily = (v: unknown, at: string): number => (v === 4 || v === 6 ? v : fail(at, 'not 4 or 6'));

/** A per-interface sysctl, slash form: net/ipv4/conf/<if|all|default>/<name> (what attach resets and doctor sets). */
export function checkSysctlKey(v: unknown, at: string): void {
  const s = needString(v, at, 128);
  const m = /^net\/ipv[46]\/conf\/([^/]+)\/([a-z0-9_]{1,64})$/.exec(s);
  if (!m || (m[1] !== 'all' && m[1] !== 'default' && !isIfName(m[1]))) {
    fail(at, `${q(s)} is not a per-interface sysctl under /proc/sys/net/ipv4/conf or ipv6/conf`);
  }
}

/**
 * A file mode hostnic sets (`install -m`): octal, no setuid, setgid or
 * sticky bit, not writable by others; `group: false` also not by the group.
 */
export function checkMode(v: unknown, at: string, { group = false } = {}): void {
  const s = needString(v, at, 8);
  if (!/^0?[0-7]{3,4}$/.test(s)) fail(at, `${q(s)} is not an octal mode like 0644`);
  const m = parseInt(s, 8);
  if (m & 0o7000) fail(at, `mode ${s} has a setuid, setgid or sticky bit`);
  if (m & 0o002) fail(at, `mode ${s} is writable by others`);
  if (!group && m & 0o020) fail(at, `mode ${s} is writable by the group`);
}

/** An absolute path in plain form: no `.`, `..`, empty component or control character. */
export function checkPlainPath(v: unknown, at: string): string {
  const s = needString(v, at);
  if (!s.startsWith('/') || s.length < 2 || s.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..')) {
    fail(at, `${q(s)} is not an absolute path in plain form`);
  }
  return s;
}

function schemas(bounds: Bounds): Record<KindName, KindSchema> {
  const ns = (p: Record<string, unknown>, at: string): void => void needNs(p.ns, `${at}.ns`);
  const attrs = (v: unknown, at: string, name: boolean): void => {
    const a = needObject(v, at, name ? ['name'] : [], ['name', 'mac', 'mtu', 'alias', 'up', 'ifindex']);
    if (a.name !== undefined) needIfName(a.name, `${at}.name`);
    if (a.mac !== undefined) needLinkAddr(a.mac, `${at}.mac`);
    if (a.mtu !== undefined) needMtu(a.mtu, `${at}.mtu`);
    if (a.alias !== undefined) needString(a.alias, `${at}.alias`, 255);
    if (a.up !== undefined) needBool(a.up, `${at}.up`);
    if (a.ifindex !== undefined) needInt(a.ifindex, `${at}.ifindex`, 1, 0x7fffffff);
  };
  return {
    'netns.add': {
      required: ['name'],
      params: (p, at) => { if (typeof p.name !== 'string' || !PRIVATE_NS.test(p.name)) fail(`${at}.name`, `${q(String(p.name))} is not a private namespace of hostnic (hostnic-<hex>)`); },
    },
    'link.move': {
      required: ['name', 'from', 'to'], optional: ['mac', 'ifindex'],
      params: (p, at) => {
        needIfName(p.name, `${at}.name`);
        if (p.mac !== undefined) needLinkAddr(p.mac, `${at}.mac`);
        if (p.ifindex !== undefined) needInt(p.ifindex, `${at}.ifindex`, 1, 0x7fffffff);
        needNs(p.from, `${at}.from`);
        needNs(p.to, `${at}.to`);
        if (p.from === p.to) fail(at, 'moves a link to the namespace it is in');
      },
    },
    'macvlan.create': {
      required: ['parent', 'ns', 'name', 'mac', 'mode'], optional: ['mtu'],
      params: (p, at) => {
        needIfName(p.parent, `${at}.parent`);
        needNs(p.ns, `${at}.ns`); // null: a child found in the host (plan/returned.ts), deleted there
        needIfName(p.name, `${at}.name`);
        needMac(p.mac, `${at}.mac`);
        if (!['bridge', 'private', 'vepa'].includes(p.mode as string)) fail(`${at}.mode`, `${q(String(p.mode))} is not bridge, private or vepa`);
        if (p.mtu !== undefined) needMtu(p.mtu, `${at}.mtu`);
      },
    },
    'link.set': {
      required: ['ns', 'from', 'to'],
      params: (p, at) => { ns(p, at); attrs(p.from, `${at}.from`, true); attrs(p.to, `${at}.to`, false); },
    },
    'addr.add': {
      required: ['ns', 'dev', 'addrs'], optional: ['expires'],
      params: (p, at) => {
        ns(p, at);
        needIfName(p.dev, `${at}.dev`);
        needArray(p.addrs, `${at}.addrs`, { min: 1 }).forEach((a, i) => checkAddrArgs(a, `${at}.addrs[${i}]`));
        if (p.expires !== undefined) {
          const e = needObject(p.expires, `${at}.expires`, [], Object.keys(p.expires ?? {}));
          for (const [cidr, x] of Object.entries(e)) {
            needCidr(cidr, `${at}.expires`);
            const t = needObject(x, `${at}.expires[${cidr}]`, ['valid', 'preferred']);
            needFinite(t.valid, `${at}.expires[${cidr}].valid`);
            needFinite(t.preferred, `${at}.expires[${cidr}].preferred`);
          }
        }
      },
    },
    'route.add': {
      required: ['ns', 'family', 'routes'],
      params: (p, at) => {
        ns(p, at);
        needFamily(p.family, `${at}.family`);
        needArray(p.routes, `${at}.routes`, { min: 1 }).forEach((r, i) => checkRouteArgs(r, `${at}.routes[${i}]`));
      },
    },
    'route.default': {
      required: ['ns', 'family', 'dev'], optional: ['gateway', 'previous'],
      params: (p, at) => {
        ns(p, at);
        needFamily(p.family, `${at}.family`);
        if (p.gateway !== undefined) needIp(p.gateway, `${at}.gateway`);
        needIfName(p.dev, `${at}.dev`);
        if (p.previous !== undefined) needArray(p.previous, `${at}.previous`, { max: 64 }).forEach((r, i) => checkRoute(r, `${at}.previous[${i}]`));
      },
      saved: (v, at) => needArray(v, at, { max: 64 }).forEach((r, i) => checkRoute(r, `${at}[${i}]`)),
    },
    'neigh.add': {
      required: ['ns', 'dev', 'entries'],
      params: (p, at) => {
        ns(p, at);
        needIfName(p.dev, `${at}.dev`);
        needArray(p.entries, `${at}.entries`, { min: 1 }).forEach((e, i) => {
          const n = needObject(e, `${at}.entries[${i}]`, ['dst'], ['lladdr']);
          needIp(n.dst, `${at}.entries[${i}].dst`);
          if (n.lladdr !== undefined) needLinkAddr(n.lladdr, `${at}.entries[${i}].lladdr`);
        });
      },
    },
    'link.master': {
      required: ['ns', 'dev', 'master'],
      params: (p, at) => { ns(p, at); needIfName(p.dev, `${at}.dev`); needIfName(p.master, `${at}.master`); },
    },
    'sysctl.set': {
      required: ['ns', 'key', 'value'],
      params: (p, at) => { ns(p, at); checkSysctlKey(p.key, `${at}.key`); needSysctlValue(p.value, `${at}.value`); },
      saved: (v, at) => needSysctlValue(v, at),
    },
    'sysctl.announce': {
      required: ['ns', 'dev'],
      params: (p, at) => { ns(p, at); needIfName(p.dev, `${at}.dev`); },
    },
    'file.write': {
      required: ['path', 'content', 'mode'],
      params: (p, at) => {
        const path = checkPlainPath(p.path, `${at}.path`);
        if (!bounds.managesFile(path)) fail(`${at}.path`, `${q(path)} is not a file hostnic manages`);
        if (typeof p.content !== 'string' || p.content.length > 1 << 20) fail(`${at}.content`, 'not a string of at most 1 MiB');
        checkMode(p.mode, `${at}.mode`);
      },
      saved: (v, at, p) => {
        const s = needObject(v, at, ['existed', 'createdDirs'], ['content', 'mode', 'uid', 'gid']);
        needBool(s.existed, `${at}.existed`);
        if (s.content !== undefined && (typeof s.content !== 'string' || s.content.length > 1 << 20)) fail(`${at}.content`, 'not a string of at most 1 MiB');
        // What was there is put back as it was, but never with a mode that gives more than it takes.
        if (s.mode !== undefined) checkMode(s.mode, `${at}.mode`, { group: true });
        if (s.uid !== undefined) needInt(s.uid, `${at}.uid`, 0, 0xfffffffe);
        if (s.gid !== undefined) needInt(s.gid, `${at}.gid`, 0, 0xfffffffe);
        // Only directories on the way to the file, which undo removes when empty.
        const ancestors = new Set<string>();
        for (let d = dirname(String(p.path)); d !== dirname(d); d = dirname(d)) ancestors.add(d);
        needArray(s.createdDirs, `${at}.createdDirs`, { max: 64 }).forEach((d, i) => {
          if (!ancestors.has(checkPlainPath(d, `${at}.createdDirs[${i}]`))) fail(`${at}.createdDirs[${i}]`, `${q(String(d))} is not a directory above ${q(String(p.path))}`);
        });
      },
    },
    'nm.managed': {
      required: ['device', 'managed'],
      params: (p, at) => { needIfName(p.device, `${at}.device`); needBool(p.managed, `${at}.managed`); },
      saved: (v, at) => needBool(v, at),
    },
    'nm.reload': { required: [], params: () => undefined },
    'networkd.reload': { required: [], params: () => undefined },
    ...dhcpSchemas(checkRoute),
  };
}

/** A sysctl value as `sysctl -w key=value` takes it: printable, one line (tabs separate the numbers of a vector). */
function needSysctlValue(v: unknown, at: string): void {
  if (typeof v !== 'string' || v.length > 256 || !/^[\x20-\x7e\t]*$/.test(v)) fail(at, 'not a one-line printable sysctl value');
}

/**
 * Step ids: printable ASCII without spaces (`host.routes4`, `sysctl:net.ipv4.conf.all.arp_ignore`,
 * `file:/etc/sysctl.d/90-hostnic.conf`, and doctor --undo's `<fix id>/<step id>`).
 */
const STEP_ID = /^[A-Za-z0-9][\x21-\x7e]{0,1023}$/;
const STEP_FIELDS = ['kind', 'id', 'title', 'params'];
const STEP_OPTIONAL = ['undoTitle', 'inverse', 'leave', 'saved', 'bestEffort'];

/** Check one step spec; throws Invalid with where and why. `at` names it in the message. */
export function checkStep(v: unknown, bounds: Bounds, at = 'step'): void {
  const s = needObject(v, at, STEP_FIELDS, STEP_OPTIONAL);
  const table = schemas(bounds);
  if (typeof s.kind !== 'string' || !Object.hasOwn(table, s.kind)) fail(`${at}.kind`, `unknown step kind ${q(String(s.kind))}`);
  const kind = table[s.kind as KindName];
  const where = `${at} (${String(s.kind)})`;
  if (typeof s.id !== 'string' || !STEP_ID.test(s.id)) fail(`${where}.id`, `${typeof s.id === 'string' ? q(s.id) : typeof s.id} is not a step id`);
  needString(s.title, `${where}.title`);
  if (s.undoTitle !== undefined) needString(s.undoTitle, `${where}.undoTitle`);
  if (s.leave !== undefined) needString(s.leave, `${where}.leave`);
  if (s.inverse !== undefined) needBool(s.inverse, `${where}.inverse`);
  if (s.bestEffort !== undefined) needBool(s.bestEffort, `${where}.bestEffort`);
  const params = needObject(s.params, `${where}.params`, kind.required, kind.optional ?? []);
  kind.params(params, `${where}.params`);
  if (s.saved !== undefined) {
    if (!kind.saved) fail(`${where}.saved`, 'this kind saves nothing');
    kind.saved!(s.saved, `${where}.saved`, params);
  }
}

/** Check steps, each with what it saved; returns why the first bad one is bad, or undefined. */
export function stepsProblem(steps: unknown, bounds: Bounds, at = 'steps'): string | undefined {
  try {
    needArray(steps, at, { max: 4096 }).forEach((s, i) => checkStep(s, bounds, `${at}[${i}]`));
    return undefined;
  } catch (e) {
    if (e instanceof Invalid) return e.message;
    throw e;
  }
}

/** Run a check; its Invalid becomes the reason (one line), anything else is a bug. */
export function problemOf(check: () => void): string | undefined {
  try {
    check();
    return undefined;
  } catch (e) {
    if (e instanceof Invalid) return e.message;
    throw e;
  }
}

export { HEX_ID, needHexId };
