/**
 * DHCP (issue 15), two kinds side by side:
 *
 * - `dhcp.client` starts busybox udhcpc in the container's network namespace
 *   (and its pid namespace, so the kernel ends it with the container) and
 *   waits for the first lease: udhcpc runs in the foreground until it has one
 *   (`-n`: it exits 1 when none came within `-t` tries a second apart), its
 *   event script writes the lease to the lease file, then it goes to the
 *   background and keeps renewing. Undo releases the lease and stops it.
 * - `dhcp.lease` applies that lease: its capture reads the lease file (what
 *   undo will remove), then the address, the MTU, on-link routes to next hops
 *   outside the subnet, the router as THE default route (the previous ones
 *   taken off and put back on undo, as route.default does for `@gateway`)
 *   and the classless routes (option 121). Its undo releases the lease first
 *   (the release goes out from the leased address), then removes them.
 */
import { readFileSync } from 'node:fs';
import type { Cmd } from '../exec.js';
import { clientArgv, LEASE_ENV, pidFileOf, scriptPath } from '../dhcp/client.js';
import { leaseRoutes, type DhcpLease } from '../dhcp/lease.js';
import { routeArgs, type Route } from '../kernel/ip.js';
import type { StepKind } from './types.js';
import { nsGone } from './link.js';
import { problemOf } from './validate.js';
import { checkLease } from './validate-dhcp.js';

export interface DhcpClientParams {
  ns: string;
  dev: string;
  /** The lease file (`<state>/dhcp/<id>.json`) the event script writes; it also names the client (its environment). */
  lease: string;
  /** The container's pid namespace (/proc/PID/ns/pid), when it has its own. */
  pidns?: string;
  /** Seconds to wait for the first lease. */
  timeout: number;
}

export interface DhcpLeaseParams {
  ns: string;
  dev: string;
  lease: string;
  /** The link's MTU before the lease (put back on undo). */
  mtu: number;
  /** The user gave --mtu: the lease's MTU is not applied. */
  keepMtu?: boolean;
  /** The container's IPv4 default routes when the plan was made (replaced by the lease's router, put back on undo). */
  previous?: Route[];
  /**
   * A renewal (plan/repair.ts planLeaseChange): the lease applied until now,
   * taken off before the new one is applied (and put back on undo). The
   * client keeps running either way.
   */
  replaces?: DhcpLease;
  /**
   * Set by a detach (plan/detach.ts) when the container's default route is
   * no longer the lease's (changed by hand, its previous device gone): the
   * undo leaves the default route as it is, and this says why.
   */
  leaveDefault?: string;
}

const ROUTE_GONE = /No such process|Cannot find device/;
const ROUTE_THERE = /File exists/;
const ADDR_GONE = /Cannot assign requested address|address not found|Cannot find device/i;
const ADDR_THERE = /File exists|address already assigned/i;

const ip = (ns: string, argv: string[], how: Pick<Cmd, 'tolerate' | 'idempotent'>): Cmd => ({ argv: ['ip', ...argv], netns: ns, ...how });
const routeAdd = (ns: string, args: string[]): Cmd => ip(ns, ['route', 'add', ...args], { idempotent: ROUTE_THERE });
const routeDel = (ns: string, args: string[]): Cmd => ip(ns, ['route', 'del', ...args], { tolerate: ROUTE_GONE });

/** Release the lease and stop the client (every client of that lease file; none: nothing to do). */
export const stopCmd = (lease: string): Cmd => ({ argv: [scriptPath(), 'stop', lease], timeoutMs: 15_000 });

/**
 * The client's command. `background`: for a client restarted while the
 * attachment stands (dhcp/keeper.ts): -b, keep trying in the background
 * when no lease comes, instead of -n, exit 1.
 */
export function clientCmd(p: DhcpClientParams, { background = false } = {}): Cmd {
  return {
    argv: [
      'nsenter', `--net=${p.ns}`, ...(p.pidns ? [`--pid=${p.pidns}`] : []), '--',
      ...clientArgv(), '-i', p.dev, '-s', scriptPath(), '-p', pidFileOf(p.lease),
      // -n: exit 1 without a lease after -t discovers -T 1 s apart; -R: release on SIGTERM;
      // -B: ask for broadcast replies (busybox 1.35 drops unicast offers over a veth with checksum offload).
      background ? '-b' : '-n', '-t', String(p.timeout), '-T', '1', '-R', '-B', '-O', 'staticroutes', '-O', 'mtu',
    ],
    env: { [LEASE_ENV]: p.lease },
    timeoutMs: (p.timeout + 10) * 1000,
  };
}

export const dhcpClient: StepKind<DhcpClientParams> = {
  apply: (p) => [clientCmd(p)],
  undo: (p) => [stopCmd(p.lease)],
  // Its namespaces are in its argv (nsenter --net --pid), not the command's netns: a client started
  // again by a rollback (of a detach's stop) needs the container alive, else nothing is to be done
  // (the client ended with it). Stopping needs no namespace: it finds clients by their lease file.
  relocate: async (p, action) => (action === 'apply' && nsGone(p.ns) ? null : p),
};

/** The lease file, checked like every state file before anything runs from it. */
export function readLease(path: string): DhcpLease {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`no DHCP lease in ${path} (${(e as Error).message.split('\n')[0]})`, { cause: e });
  }
  const problem = problemOf(() => checkLease(v, 'lease'));
  if (problem) throw new Error(`${path}: invalid: ${problem}`);
  return v as DhcpLease;
}

const theirs = (r: Route): string[] => routeArgs(r, r.dev ?? '');

const mtuChanged = (p: DhcpLeaseParams, s: DhcpLease): boolean => !!s.mtu && !p.keepMtu && s.mtu !== p.mtu;

/** The commands that put lease `s` on the link. */
function put(p: DhcpLeaseParams, s: DhcpLease): Cmd[] {
  const r = leaseRoutes(s, p.dev);
  return [
    ip(p.ns, ['addr', 'add', `${s.ip}/${s.prefix}`, 'dev', p.dev], { idempotent: ADDR_THERE }),
    ...(mtuChanged(p, s) ? [ip(p.ns, ['link', 'set', 'dev', p.dev, 'mtu', String(s.mtu)], {})] : []),
    ...r.onlink.map((a) => routeAdd(p.ns, a)),
    ...(r.default && p.leaveDefault === undefined ? [...(p.previous ?? []).map((x) => routeDel(p.ns, theirs(x))), routeAdd(p.ns, r.default)] : []),
    ...r.routes.map((a) => routeAdd(p.ns, a)),
  ];
}

/** The commands that take lease `s` off the link, in reverse, the previous default routes back. */
function takeOff(p: DhcpLeaseParams, s: DhcpLease): Cmd[] {
  const r = leaseRoutes(s, p.dev);
  return [
    ...[...r.routes].reverse().map((a) => routeDel(p.ns, a)),
    ...(r.default && p.leaveDefault === undefined ? [routeDel(p.ns, r.default), ...(p.previous ?? []).map((x) => routeAdd(p.ns, theirs(x)))] : []),
    ...[...r.onlink].reverse().map((a) => routeDel(p.ns, a)),
    ...(mtuChanged(p, s) ? [ip(p.ns, ['link', 'set', 'dev', p.dev, 'mtu', String(p.mtu)], { tolerate: /Cannot find device/ })] : []),
    ip(p.ns, ['addr', 'del', `${s.ip}/${s.prefix}`, 'dev', p.dev], { tolerate: ADDR_GONE }),
  ];
}

export const dhcpLease: StepKind<DhcpLeaseParams, DhcpLease> = {
  capture: async (p) => readLease(p.lease),
  apply: (p, s) => [...(p.replaces ? takeOff(p, p.replaces) : []), ...(s ? put(p, s) : [])],
  // Taken off for good (detach, rollback of the attach): the lease is released first, from its address.
  undo: (p, s) => (p.replaces
    ? [...(s ? takeOff(p, s) : []), ...put(p, p.replaces)]
    : [stopCmd(p.lease), ...(s ? takeOff(p, s) : [])]),
};
