/** Permanent neighbour entries (static ARP / NDP) on a link. The inverse of `neigh.add` is how attach takes the host's off, keeping them for detach. */
import type { Cmd } from '../exec.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface NeighParams {
  ns: NsRef;
  dev: string;
  /** Each entry: the neighbour's address and its link-layer address (none for a `noarp` entry). */
  entries: { dst: string; lladdr?: string }[];
}

const GONE = /No such file or directory|Cannot find device/;

export const neighAdd: StepKind<NeighParams> = {
  // `replace`: an entry the kernel learnt meanwhile for that address is overwritten, as it was before.
  apply: (p) => p.entries.map((e): Cmd => ({
    argv: ['ip', 'neigh', 'replace', e.dst, ...(e.lladdr ? ['lladdr', e.lladdr] : []), 'dev', p.dev, 'nud', e.lladdr ? 'permanent' : 'noarp'],
    netns: nsArg(p.ns),
  })),
  undo: (p) => [...p.entries].reverse().map((e): Cmd => ({
    argv: ['ip', 'neigh', 'del', e.dst, 'dev', p.dev], netns: nsArg(p.ns), tolerate: GONE,
  })),
};
