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

/** Adding: "exists" is accepted only in a rollback. Deleting: "gone" is always fine. */
const routeCmd = (ns: NsRef, family: Family, verb: 'add' | 'del', args: string[]): Cmd => ({
  argv: ['ip', `-${family}`, 'route', verb, ...args],
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
  gateway: string;
  dev: string;
}

/** The default routes of that family found when the step ran. */
export type DefaultSaved = Route[];

const ours = (p: DefaultParams): string[] => ['default', 'via', p.gateway, 'dev', p.dev];
/** A default route as found, on its own device. */
const theirs = (r: Route): string[] => routeArgs(r, r.dev ?? '');

export const routeDefault: StepKind<DefaultParams, DefaultSaved> = {
  capture: (p) => defaultRoutes(p.ns ?? undefined, p.family),
  apply: (p, saved) => [
    ...(saved ?? []).map((r) => routeCmd(p.ns, p.family, 'del', theirs(r))),
    routeCmd(p.ns, p.family, 'add', ours(p)),
  ],
  undo: (p, saved) => [
    routeCmd(p.ns, p.family, 'del', ours(p)),
    ...(saved ?? []).map((r) => routeCmd(p.ns, p.family, 'add', theirs(r))),
  ],
};
