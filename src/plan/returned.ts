/** The plan for a NIC that is back in the host: its container's namespace died (a physical NIC returns), or someone moved it out by hand. */
import { invert, withSaved } from '../steps/index.js';
import type { StepSpec } from '../steps/types.js';
import type { AttachmentRecord } from '../records.js';
import { planSections } from './attach.js';

/**
 * The NIC is in the host under `liveName` (devN after a namespace's death,
 * the container-side name when moved out by hand): rename it and restore
 * its host settings. A macvlan child is deleted there.
 */
export function planReturned(rec: AttachmentRecord, liveName: string): StepSpec[] {
  const sections = planSections({ ...rec.input, ctrName: liveName });
  // A macvlan child in the host (moved there by hand): deleted there; nothing of the host's was changed.
  const child = sections.move.find((s) => s.kind === 'macvlan.create');
  if (child?.kind === 'macvlan.create') return [invert({ ...child, params: { ...child.params, ns: null } })];
  // The rename happened in the container or the private namespace; the NIC is in the host now.
  const rename = sections.move.find((s) => s.id === 'rename');
  if (rename?.kind !== 'link.set') throw new Error(`internal: the plan of ${rec.id} has no rename`);
  const inHost: StepSpec<'link.set'> = { ...rename, params: { ...rename.params, ns: null } };
  // The host-side steps: what was taken off before the NIC left the host, with what they saved. The NIC
  // is home: as in a detach (plan/detach.ts), what is restored around it is best effort (a route whose
  // source address expired meanwhile is reported with its command, and does not undo the rename).
  const hostSide = sections.host.map((s) => withSaved(s, rec.saved));
  return [invert(inHost), ...hostSide.reverse().map((s) => ({ ...invert(s), ...(s.id.startsWith('host.') ? { bestEffort: true } : {}) }))];
}
