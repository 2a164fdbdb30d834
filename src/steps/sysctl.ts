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
  watch: {
    subject: (p) => `sysctl ${p.ns ?? ''} ${p.key}`,
    // A key that is gone (its NIC left) cannot be told changed: undo tolerates it.
    read: (p) => nsSysctl(p.ns ?? undefined, p.key),
    applied: (p) => p.value,
    undone: (_p, saved) => saved,
    why: (p, now) => `${p.key.replaceAll('/', '.')} is ${now ?? 'gone'} now, not the ${p.value} hostnic set: left as it is`,
  },
};

export interface AnnounceParams {
  ns: NsRef;
  /** The link whose per-interface sysctls are set. */
  dev: string;
}

/**
 * arp_notify and ndisc_notify on a link that just arrived in a namespace:
 * the kernel then announces its addresses when it comes up (gratuitous ARP,
 * unsolicited neighbour advertisement), so there is no arping and no wait.
 * One `sysctl` process for both. Nothing to undo: per-interface sysctls live
 * and die with the link's stay in the namespace (a move resets them to the
 * new namespace's defaults), and the link leaves right after in any undo.
 * IPv6 may be off in the container: its key is then absent, which is fine.
 */
export const sysctlAnnounce: StepKind<AnnounceParams> = {
  apply: (p) => [{
    argv: ['sysctl', '-q', '-w', `net/ipv4/conf/${p.dev}/arp_notify=1`, `net/ipv6/conf/${p.dev}/ndisc_notify=1`],
    netns: nsArg(p.ns),
    tolerate: /^(sysctl: cannot stat \/proc\/sys\/net\/ipv6\/[^\n]*\n?)+$/,
    // In a rollback (detach inverts this step: its undo is this command), no link of that name
    // there means the steps before it never ran (a crash in the middle of an ip batch): already so.
    idempotent: /^(sysctl: cannot stat \/proc\/sys\/net\/ipv[46]\/conf\/[^\n]*\n?)+$/,
  }],
  undo: () => [],
};
