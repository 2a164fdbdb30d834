/**
 * Detach is attach backwards: the same pure planner rebuilds the attach steps
 * from the record (with the NIC's current container-side name), each step
 * gets back what it saved, and the list runs reversed with every step
 * inverted. One definition of each change, so attach and detach cannot drift
 * apart. Only the move itself may take another path than attach took (the
 * host name may have become taken in the container, or free): it saves
 * nothing, so it is planned afresh for the path detach can take now.
 */
import { invert } from '../steps/index.js';
import type { AddrParams } from '../steps/addr.js';
import type { SetParams } from '../steps/link.js';
import type { StepSpec } from '../steps/types.js';
import { assemble, planSections, type AttachInput, type MovePath } from './attach.js';

export interface DetachLive {
  /** The NIC's name in the container now (it may have been renamed there). */
  ctrName: string;
  /** A fresh private namespace name, for the `private` path. */
  tmpNs: string;
  /** The path the NIC can take out now (plan/attach.ts choosePath). */
  path: MovePath;
}

export function planDetach(input: AttachInput, saved: unknown[], live: DetachLive): StepSpec[] {
  const recorded = planSections({ ...input, ctrName: live.ctrName, tmpNs: live.tmpNs });
  const order = assemble(recorded);
  if (order.length !== saved.length) {
    throw new Error(`record ${input.id} does not match its plan (${saved.length} saved, ${order.length} steps)`);
  }
  const savedOf = new Map(order.map((s, i) => [s, saved[i] ?? undefined]));
  const put = (list: StepSpec[]): StepSpec[] => list.map((s) => ({ ...s, saved: savedOf.get(s) }));
  const { move } = planSections({ ...input, ctrName: live.ctrName, tmpNs: live.tmpNs, path: live.path });
  const out = assemble({ host: put(recorded.host), move, ctr: put(recorded.ctr) }).reverse().map(invert);
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
