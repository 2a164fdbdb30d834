/** Routes: plain ones (`--route`, the host's own routes through a NIC) and the default-route swap. */
import { defaultRoutes, routeArgs, type Family, type Route } from '../kernel/ip.js';
import type { Cmd } from '../exec.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface RoutesParams {
  ns: NsRef;
  family: Family;
  /** Each entry: the arguments after `ip -F route add`. */
  routes: string[][];
}

const GONE = /No such process|Cannot find device/;
const THERE = /File exists/;

/**
 * Adding: "exists" is accepted only in a rollback. Deleting: "gone" is always
 * fine. No -4/-6: every destination is a prefix of its family (0.0.0.0/0,
 * ::/0 for default), so route commands share an `ip -batch` with the others.
 */
const routeCmd = (ns: NsRef, _family: Family, verb: 'add' | 'del', args: string[]): Cmd => ({
  argv: ['ip', 'route', verb, ...args],
  netns: nsArg(ns),
  ...(verb === 'add' ? { idempotent: THERE } : { tolerate: GONE }),
});

export const routeAdd: StepKind<RoutesParams> = {
  apply: (p) => p.routes.map((r) => routeCmd(p.ns, p.family, 'add', r)),
  undo: (p) => [...p.routes].reverse().map((r) => routeCmd(p.ns, p.family, 'del', r)),
};

export interface DefaultParams {
  ns: NsRef;
  family: Family;
  /** Absent: a default route on the link itself (`--route 0.0.0.0/0` without a next hop). */
  gateway?: string;
  dev: string;
  /**
   * The default routes found when the plan was made. With it there is no
   * capture (the step can share an `ip -batch`); the planner reads the
   * container under the lock just before, and nothing of hostnic's touches
   * its default routes in between.
   */
  previous?: Route[];
}

/** The default routes of that family found when the step ran. */
export type DefaultSaved = Route[];

const ours = (p: DefaultParams): string[] => [p.family === 6 ? '::/0' : '0.0.0.0/0', ...(p.gateway ? ['via', p.gateway] : []), 'dev', p.dev];
/** A default route as found, on its own device. */
const theirs = (r: Route): string[] => routeArgs(r, r.dev ?? '');

/** What the step replaced: captured (old records), or planned. */
const before = (p: Pick<DefaultParams, 'previous'>, saved: DefaultSaved | undefined): Route[] => saved ?? p.previous ?? [];

export const routeDefault: StepKind<DefaultParams, DefaultSaved> = {
  // Only for a plan made without `previous` (a record rebuilt from a tag).
  capture: async (p) => p.previous ?? defaultRoutes(p.ns ?? undefined, p.family),
  needsCapture: (p) => p.previous === undefined,
  apply: (p, saved) => [
    ...before(p, saved).map((r) => routeCmd(p.ns, p.family, 'del', theirs(r))),
    routeCmd(p.ns, p.family, 'add', ours(p)),
  ],
  undo: (p, saved) => [
    routeCmd(p.ns, p.family, 'del', ours(p)),
    ...before(p, saved).map((r) => routeCmd(p.ns, p.family, 'add', theirs(r))),
  ],
};

const gwOf = (r: Route): string | undefined => r.gateway ?? r.via?.host;
const show = (r: Route): string => `${gwOf(r) ? `via ${gwOf(r)} ` : ''}dev ${r.dev ?? (r.nexthops ?? []).map((h) => h.dev).join(',')}`;

/**
 * Whether undoing the step would put the previous default route back over
 * something a person did (detach then marks it `leave`, steps/types.ts): undefined when the container's default routes of
 * that family (main table, as read now) are exactly the one hostnic set and
 * every previous route's device is still there; else why they are left as
 * they are. Pure: `now` and `devs` are what the caller read.
 */
export function defaultDrift(p: Pick<DefaultParams, 'family' | 'gateway' | 'dev' | 'previous'>, saved: DefaultSaved | undefined, now: Route[], devs: Set<string>): string | undefined {
  const prev = before(p, saved);
  const isOurs = (r: Route): boolean => gwOf(r) === p.gateway && r.dev === p.dev;
  const v = `IPv${p.family}`;
  const was = prev.length ? prev.map(show).join('; ') : 'none';
  if (now.length !== 1 || !isOurs(now[0]!)) {
    const is = now.length ? now.map(show).join('; ') : 'none';
    return `the container's ${v} default route was changed after attach (now: ${is}; hostnic set: ${p.gateway ? `via ${p.gateway} ` : ''}dev ${p.dev}): left as it is, the previous one (${was}) not put back`;
  }
  const lost = prev.flatMap((r) => (r.dev ? [r.dev] : (r.nexthops ?? []).flatMap((h) => (h.dev ? [h.dev] : [])))).filter((d) => !devs.has(d));
  if (lost.length) {
    return `the container's previous ${v} default route (${was}) cannot be put back: ${[...new Set(lost)].join(', ')} is gone; the container has no ${v} default route now`;
  }
  return undefined;
}
