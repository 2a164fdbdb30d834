/**
 * Detach is attach backwards: the same pure planner rebuilds the attach steps
 * from the record (with the NIC's current container-side name and a fresh
 * private namespace), each step gets back what it saved, and the list runs
 * reversed with every step inverted. One definition of each change, so attach
 * and detach cannot drift apart.
 */
import { invert } from '../steps/index.js';
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
  return steps.map((s, i) => ({ ...s, saved: saved[i] ?? undefined })).reverse().map(invert);
}
