/** Addresses on a link. The inverse of `addr.add` is how attach removes the host's addresses, keeping them for detach. */
import type { Cmd } from '../exec.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface AddrParams {
  ns: NsRef;
  dev: string;
  /** Each entry: what follows `ip addr add` before `dev` (see kernel/ip.ts addrArgs), first item the CIDR. */
  addrs: string[][];
}

const cmd = (p: AddrParams, verb: 'add' | 'del', args: string[], tolerate?: RegExp): Cmd => ({
  argv: ['ip', 'addr', verb, ...(verb === 'add' ? args : args.slice(0, 1)), 'dev', p.dev],
  netns: nsArg(p.ns),
  tolerate,
});

export const addrAdd: StepKind<AddrParams> = {
  apply: (p) => p.addrs.map((a) => cmd(p, 'add', a)),
  undo: (p) =>
    [...p.addrs].reverse().map((a) => cmd(p, 'del', a, /Cannot assign requested address|Cannot find device/)),
};
