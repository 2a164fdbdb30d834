/** A named network namespace (hostnic's private waiting room for a NIC). */
import { existsSync } from 'node:fs';
import { links } from '../kernel/ip.js';
import type { StepKind } from './types.js';

export interface NetnsParams {
  /** Name under /run/netns. */
  name: string;
}

export const netnsAdd: StepKind<NetnsParams> = {
  apply: (p) => [{ argv: ['ip', 'netns', 'add', p.name], idempotent: /File exists/ }],
  undo: (p) => [{ argv: ['ip', 'netns', 'delete', p.name], tolerate: /No such file or directory/ }],
  // Deleting a namespace that still holds a NIC destroys it (virtual) or
  // strands it in the initial namespace (physical): refuse instead.
  // Forwards, the delete comes right after the NIC moved out (else the plan
  // stopped there), so only a rollback or recovery has to look.
  async preflight(p, action, { rollback }) {
    const path = `/run/netns/${p.name}`;
    if (action !== 'undo' || !rollback || !existsSync(path)) return;
    const held = (await links(path)).filter((l) => l.ifname !== 'lo').map((l) => l.ifname);
    if (held.length) throw new Error(`${p.name} still holds ${held.join(', ')}: not deleting it (that would destroy or strand the NIC)`);
  },
};
