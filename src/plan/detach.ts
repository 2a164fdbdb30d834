/**
 * Detach is attach backwards: the same pure planner rebuilds the attach steps
 * from the record (with the NIC's current container-side name and a fresh
 * private namespace), each step gets back what it saved, and the list runs
 * reversed with every step inverted. One definition of each change, so attach
 * and detach cannot drift apart.
 */
import { invert } from '../steps/index.js';
import type { AddrParams } from '../steps/addr.js';
import type { SetParams } from '../steps/link.js';
import type { StepSpec } from '../steps/types.js';
import { planAttach, type AttachInput } from './attach.js';

export interface DetachLive {
  /** The NIC's name in the container now (it may have been renamed there). */
  ctrName: string;
  tmpNs: string;
}

export function planDetach(input: AttachInput, saved: unknown[], live: DetachLive): StepSpec[] {
  const steps = planAttach({ ...input, ctrName: live.ctrName, tmpNs: live.tmpNs });
  if (steps.length !== saved.length) {
    throw new Error(`record ${input.id} does not match its plan (${saved.length} saved, ${steps.length} steps)`);
  }
  const out = steps.map((s, i) => ({ ...s, saved: saved[i] ?? undefined })).reverse().map(invert);
  // The one exception to "exactly backwards". Attach adds the container-side
  // addresses, then brings the link up (arp_notify announces what is there
  // at up). Backwards, detach would take the link down first, and the kernel
  // drops a link's IPv6 addresses when it goes down: a rollback of the detach
  // from there (up again) would come back without them, since the step that
  // removes them never ran. So detach removes the addresses, then takes the
  // link down; each undo then restores exactly what its step took away.
  const down = out.findIndex((s) => s.kind === 'link.set' && s.inverse
    && (s.params as SetParams).ns === input.target.nsPath && (s.params as SetParams).to.up === true);
  const next = out[down + 1];
  if (down >= 0 && next?.kind === 'addr.add' && (next.params as AddrParams).ns === input.target.nsPath) {
    [out[down], out[down + 1]] = [next, out[down]!];
  }
  // Like attach, create the private namespace first: the container-side
  // steps and the move out of the container then share one `ip -batch`.
  const create = out.findIndex((s) => s.kind === 'netns.add' && !s.inverse);
  if (create > 0) out.unshift(...out.splice(create, 1));
  return out;
}
