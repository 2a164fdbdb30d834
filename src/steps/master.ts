/** A link's master (the bridge or bond it is a port of). The inverse of `link.master` is how attach takes a host NIC out of its bridge, for detach to put it back. */
import type { Cmd } from '../exec.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface MasterParams {
  ns: NsRef;
  dev: string;
  master: string;
}

export const linkMaster: StepKind<MasterParams> = {
  apply: (p): Cmd[] => [{ argv: ['ip', 'link', 'set', 'dev', p.dev, 'master', p.master], netns: nsArg(p.ns) }],
  // Out of the bridge already (or gone): nothing to undo.
  undo: (p): Cmd[] => [{ argv: ['ip', 'link', 'set', 'dev', p.dev, 'nomaster'], netns: nsArg(p.ns), tolerate: /Cannot find device/ }],
};
