/** The plan for a physical NIC that came back to the host when its container's namespace died. */
import { invert } from '../steps/index.js';
import type { SetParams } from '../steps/link.js';
import type { StepSpec } from '../steps/types.js';
import type { AttachmentRecord } from '../records.js';
import { planAttach } from './attach.js';

/**
 * The container's namespace is gone but a physical NIC came back to the
 * host (maybe as devN): rename it and restore its host settings.
 */
export function planReturned(rec: AttachmentRecord, liveName: string): StepSpec[] {
  const steps = planAttach({ ...rec.input, ctrName: liveName }).map((s, i) => ({ ...s, saved: rec.saved[i] ?? undefined }));
  // The rename happened in the container or the private namespace; the NIC is in the host now.
  const rename = steps.find((s) => s.kind === 'link.set' && (s.params as SetParams).to.name !== undefined)!;
  const inHost: StepSpec = { ...rename, params: { ...(rename.params as SetParams), ns: null } };
  // The host-side steps: everything before the NIC left the host, but the private namespace.
  const hostSide = steps.slice(0, steps.findIndex((s) => s.kind === 'link.move')).filter((s) => s.kind !== 'netns.add');
  return [invert(inHost), ...hostSide.reverse().map(invert)];
}
