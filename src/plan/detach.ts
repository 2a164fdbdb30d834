/**
 * Detach is attach backwards: the same pure planner rebuilds the attach steps
 * from the record (with the NIC's current container-side name), each step
 * gets back what it saved, and the list runs reversed with every step
 * inverted. One definition of each change, so attach and detach cannot drift
 * apart. What a step saved is found by its id in the record. Only the move itself may take another path than attach took (the
 * host name may have become taken in the container, or free): it saves
 * nothing, so it is planned afresh for the path detach can take now.
 */
import { checkIds, invert, withSaved } from '../steps/index.js';
export { leftAlone } from '../steps/index.js';
import type { SavedById, StepSpec } from '../steps/types.js';
import { mainDefaults, type NsState } from '../kernel/ip.js';
import { defaultDrift } from '../steps/route.js';
import { ON_LINK } from '../dhcp/lease.js';
import type { AttachmentRecord } from '../records.js';
import { assemble, choosePath, planSections, type AttachInput, type MovePath } from './attach.js';
import { planReturned } from './returned.js';

export interface DetachLive {
  /** The NIC's name in the container now (it may have been renamed there). */
  ctrName: string;
  /** A fresh private namespace name, for the `private` path. */
  tmpNs: string;
  /** The path the NIC can take out now (plan/attach.ts choosePath). */
  path: MovePath;
  /**
   * The container as it is now (under the lock): its default routes and
   * links. With it, a default route someone changed after attach is left as
   * it is (steps/route.ts defaultDrift).
   */
  ctr?: NsState;
}

export function planDetach(input: AttachInput, saved: SavedById, live: DetachLive): StepSpec[] {
  const recorded = planSections({ ...input, ctrName: live.ctrName, tmpNs: live.tmpNs });
  checkIds(assemble(recorded));
  const put = (list: StepSpec[]): StepSpec[] => list.map((s) => leaveDrifted(withSaved(s, saved), live.ctr));
  const { move } = planSections({ ...input, ctrName: live.ctrName, tmpNs: live.tmpNs, path: live.path });
  const out = assemble({ host: put(recorded.host), move, ctr: put(recorded.ctr) }).reverse().map(invert);
  // The one exception to "exactly backwards". Attach adds the container-side
  // addresses, then brings the link up (arp_notify announces what is there
  // at up). Backwards, detach would take the link down first, and the kernel
  // drops a link's IPv6 addresses when it goes down: a rollback of the detach
  // from there (up again) would come back without them, since the step that
  // removes them never ran. So detach removes the addresses, then takes the
  // link down; each undo then restores exactly what its step took away.
  const down = out.findIndex((s) => s.id === 'ctr.up');
  const next = out[down + 1];
  if (down >= 0 && next?.id === 'ctr.addrs') [out[down], out[down + 1]] = [next, out[down]!];
  // Like attach, create the private namespace first: the container-side
  // steps and the move out of the container then share one `ip -batch`.
  const create = out.findIndex((s) => s.id === 'tmpns.remove');
  if (create > 0) out.unshift(...out.splice(create, 1));
  // Once the NIC is home, what is restored on the host around it is best
  // effort: a route that cannot come back (its gateway or source address is
  // gone) is reported with its command, and does not send the NIC back into
  // the container.
  const home = out.findIndex((s) => s.id === 'move');
  return out.map((s, i) => (i > home && s.id.startsWith('host.') ? { ...s, bestEffort: true } : s));
}

/**
 * A default-route step whose route someone changed since attach: marked to be left alone (with why).
 * A DHCP lease's default route the same way: the rest of its undo (the release, its address and
 * routes) still runs, the default route is left as it is.
 */
function leaveDrifted(step: StepSpec, ctr: NsState | undefined): StepSpec {
  if (step.kind === 'dhcp.lease' && ctr && step.saved?.router !== undefined) {
    const { router } = step.saved;
    const p = step.params;
    // The lease's default route (an on-link one has no gateway).
    const lease = { family: 4 as const, dev: p.dev, previous: p.previous ?? [], ...(router === ON_LINK ? {} : { gateway: router }) };
    const why = defaultDrift(lease, undefined, mainDefaults(ctr.routes4), new Set(ctr.links.map((l) => l.ifname)));
    return why === undefined ? step : { ...step, params: { ...p, leaveDefault: why } };
  }
  if (step.kind !== 'route.default' || !ctr) return step;
  const now = mainDefaults(step.params.family === 6 ? ctr.routes6 : ctr.routes4);
  const why = defaultDrift(step.params, step.saved, now, new Set(ctr.links.map((l) => l.ifname)));
  if (why === undefined) return step;
  const title = `Leave the container's IPv${step.params.family} default route as it is (changed after attach)`;
  return { ...step, undoTitle: title, leave: why };
}

/** What the live check found (observe/live.ts), as far as planning a detach needs it. */
export interface DetachFound {
  where: 'container' | 'host' | 'gone' | 'held';
  liveName?: string;
  nsPath?: string;
  detail: string;
}

/**
 * The plan that gives one attachment back, for where its NIC is now: in the
 * container (or its namespace held by something), back in the host (the
 * namespace died, or it was moved out by hand), or gone (nothing to do but
 * forget the record).
 * `ctr`: the namespace the NIC is in, as read now, when it is in one.
 */
export function planDetachOf(rec: AttachmentRecord, found: DetachFound, ctr: NsState | undefined, planId: string): { steps: StepSpec[]; title: string } {
  const i = rec.input;
  if (found.where === 'container' || found.where === 'held') {
    // Held: the container's process is gone but its namespace is not; reach it through a holder.
    const input = found.nsPath ? { ...i, target: { ...i.target, nsPath: found.nsPath } } : i;
    const ctrName = found.liveName ?? i.ctrName;
    const path = choosePath(i.host.name, ctr?.links ?? [], ctrName);
    return {
      steps: planDetach(input, rec.saved, { ctrName, tmpNs: `hostnic-${planId}`, path, ...(ctr ? { ctr } : {}) }),
      title: i.macvlan
        ? `Detach macvlan child ${ctrName} (of ${i.macvlan.parent}) from ${i.target.display} and delete it`
        : `Detach ${ctrName} from ${i.target.display}, back to the host as ${i.host.name}`,
    };
  }
  if (found.where === 'host') {
    return { steps: [...stopClient(i), ...planReturned(rec, found.liveName!)], title: `Restore ${found.liveName} (back from ${i.target.display}) as ${i.host.name}` };
  }
  return { steps: stopClient(i), title: `Forget ${i.host.name} (${found.detail})` };
}

/**
 * The NIC left its container (the namespace died, or it was moved out by
 * hand): its DHCP client, if one still runs (a target in hostnic's pid
 * namespace, or a container that lives on), is stopped, and its lease
 * file removed.
 */
function stopClient(i: AttachInput): StepSpec[] {
  return planSections(i).ctr.filter((s) => s.kind === 'dhcp.client').map(invert);
}
