/** A named network namespace (hostnic's private waiting room for a NIC). */
import type { StepKind } from './types.js';

export interface NetnsParams {
  /** Name under /run/netns. */
  name: string;
}

export const netnsAdd: StepKind<NetnsParams> = {
  apply: (p) => [{ argv: ['ip', 'netns', 'add', p.name], idempotent: /File exists/ }],
  undo: (p) => [{ argv: ['ip', 'netns', 'delete', p.name], tolerate: /No such file or directory/ }],
};
