/** One sysctl in one namespace, restored to the value it had. */
import { nsSysctl } from '../kernel/ip.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface SysctlParams {
  ns: NsRef;
  /** Slash form, so interface names with dots stay one component: net/ipv4/conf/eth1/arp_notify */
  key: string;
  value: string;
}

/** The value before the step; undefined when the key did not exist. */
export type SysctlSaved = string | undefined;

export const sysctlSet: StepKind<SysctlParams, SysctlSaved> = {
  capture: (p) => nsSysctl(p.ns ?? undefined, p.key),
  apply: (p) => [{ argv: ['sysctl', '-q', '-w', `${p.key}=${p.value}`], netns: nsArg(p.ns) }],
  undo: (p, saved) =>
    saved === undefined
      ? []
      : [{ argv: ['sysctl', '-q', '-w', `${p.key}=${saved}`], netns: nsArg(p.ns), tolerate: /cannot stat|No such file/ }],
};
