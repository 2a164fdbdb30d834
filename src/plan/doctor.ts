/**
 * doctor's plans, pure: the fix plan from the checks' fixes, and the undo
 * plan from the recorded fixes (each record's steps reversed and inverted,
 * as detach inverts attach).
 */
import type { Check } from '../doctor/types.js';
import { fixRecordPath, type FixRecord } from '../doctor/records.js';
import type { Plan } from '../runner.js';
import { checkIds, invert, withSaved } from '../steps/index.js';
import type { StepSpec } from '../steps/types.js';
import { SCHEMA } from '../state.js';

/** In the `touches` of every doctor plan: a dead one makes the next --fix/--undo refuse until `hostnic recover`. */
export const FIX_TOKEN = 'doctor:fix';

/**
 * One plan with the steps of every check's fix, in check order; once it
 * succeeded the runner writes the fix record (fixRecordPath(id)) with what
 * each step saved.
 */
export function fixPlan(fixable: readonly Check[], id: string, createdAt: string): Plan {
  const steps = fixable.flatMap((c) => c.fix?.steps ?? []);
  checkIds(steps);
  const checks = fixable.map((c) => c.id);
  const nics = [...new Set(fixable.flatMap((c) => c.nics ?? []))];
  const record: Omit<FixRecord, 'saved'> = { schema: SCHEMA, kind: 'doctor-fix', id, createdAt, checks, nics, steps };
  return {
    id,
    command: 'doctor --fix',
    title: `Fix ${checks.join(', ')}`,
    steps,
    touches: [FIX_TOKEN, ...nics],
    finalize: { write: [{ path: fixRecordPath(id), value: record, saved: true }] },
  };
}

/** The steps that revert records (given newest first): each record's steps with their saved data, reversed, inverted. */
export function undoSteps(records: readonly FixRecord[]): StepSpec[] {
  // Ids are unique in one record; two records may hold the same step (the same sysctl fixed twice).
  return records.flatMap((r) => r.steps.map((s) => ({ ...withSaved(s, r.saved), id: `${r.id}/${s.id}` })).reverse().map(invert));
}

/** One plan that reverts every recorded fix (newest first) and removes the records once it succeeded. */
export function undoPlan(records: readonly FixRecord[], id: string): Plan {
  return {
    id,
    command: 'doctor --undo',
    title: `Undo ${records.length === 1 ? 'the doctor fix' : `${records.length} doctor fixes`} (${records.flatMap((r) => r.checks).join(', ')})`,
    steps: undoSteps(records),
    touches: [FIX_TOKEN, ...new Set(records.flatMap((r) => r.nics))],
    finalize: { remove: records.map((r) => fixRecordPath(r.id)) },
  };
}
