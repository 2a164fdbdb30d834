/**
 * What `doctor --fix` leaves behind: one record per successful fix, in
 * <state>/doctor/fix-<id>.json, with the steps and what each one saved
 * (previous sysctl values, previous file contents, NetworkManager's previous
 * setting), so that `doctor --undo` can put them back.
 */
import { join } from 'node:path';
import { SCHEMA, isObject, type StateDir } from '../state.js';
import type { SavedById, StepSpec } from '../steps/types.js';

/** Where fix records live, relative to the state directory. */
export const FIX_DIR = 'doctor';

/** What one successful `doctor --fix` changed: its steps, and what each saved before it ran. */
export interface FixRecord {
  schema: typeof SCHEMA;
  kind: 'doctor-fix';
  id: string;
  createdAt: string;
  /** The checks it fixed. */
  checks: string[];
  /** The NICs those checks were about. */
  nics: string[];
  /** The steps as they ran (without what they saved). */
  steps: StepSpec[];
  /** What the steps saved, by step id: written by the runner. */
  saved: SavedById;
}

export function isFixRecord(v: unknown): v is FixRecord {
  return isObject(v) && v.schema === SCHEMA && v.kind === 'doctor-fix' && typeof v.id === 'string'
    && Array.isArray(v.steps) && isObject(v.saved);
}

export const fixRecordPath = (id: string): string => join(FIX_DIR, `fix-${id}.json`);

/** The fix records, newest first. */
export function loadFixRecords(state: StateDir): { records: FixRecord[]; bad: { file: string; error: string }[] } {
  const { items, bad } = state.readAll(join(state.root, FIX_DIR), isFixRecord);
  items.sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)));
  return { records: items, bad };
}
