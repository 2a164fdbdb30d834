/**
 * What `doctor --fix` leaves behind: one record per successful fix, in
 * <state>/doctor/fix-<id>.json, with the steps and what each one saved
 * (previous sysctl values, previous file contents, NetworkManager's previous
 * setting), so that `doctor --undo` can put them back.
 */
import { join } from 'node:path';
import { managedFiles } from '../host/paths.js';
import { SCHEMA, isObject, type StateDir } from '../state.js';
import { fail, isIfName, needArray, needHexId, needObject, needString } from '../steps/shapes.js';
import { checkStep, problemOf, type Bounds } from '../steps/validate.js';
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

/**
 * Why a fix record (file `name` in doctor/) must not be undone from, or
 * undefined: every step against its kind's schema (steps/validate.ts),
 * with what it saved; a file only where doctor writes its files.
 */
export function fixRecordProblem(v: unknown, name: string, bounds: Bounds = managedFiles()): string | undefined {
  return problemOf(() => {
    const r = needObject(v, 'fix record', ['schema', 'kind', 'id', 'createdAt', 'checks', 'nics', 'steps', 'saved']);
    if (r.kind !== 'doctor-fix') fail('kind', 'not "doctor-fix"');
    const id = needHexId(r.id, 'id');
    if (name !== `fix-${id}.json`) fail('id', `${id} is not the file's own name`);
    needString(r.createdAt, 'createdAt', 64);
    needArray(r.checks, 'checks', { max: 64 }).forEach((c, i) => needString(c, `checks[${i}]`, 64));
    needArray(r.nics, 'nics', { max: 4096 }).forEach((n, i) => (isIfName(n) ? n : fail(`nics[${i}]`, 'not an interface name')));
    const saved = needObject(r.saved, 'saved', [], Object.keys(r.saved ?? {}));
    const steps = needArray(r.steps, 'steps', { max: 4096 });
    const ids = new Set(steps.map((s) => (isObject(s) ? s.id : undefined)));
    for (const key of Object.keys(saved)) if (!ids.has(key)) fail(`saved.${key}`, 'no step of this fix has that id');
    steps.forEach((s, i) => {
      const sid = isObject(s) && typeof s.id === 'string' ? s.id : '';
      checkStep(isObject(s) && Object.hasOwn(saved, sid) ? { ...s, saved: saved[sid] } : s, bounds, `steps[${i}]`);
    });
  });
}

export const fixRecordPath = (id: string): string => join(FIX_DIR, `fix-${id}.json`);

/** The fix records, newest first. */
export function loadFixRecords(state: StateDir): { records: FixRecord[]; bad: { file: string; error: string }[] } {
  const bounds = managedFiles();
  const { items, bad } = state.readAll<FixRecord>(join(state.root, FIX_DIR), (v, name) => fixRecordProblem(v, name, bounds));
  items.sort((a, b) => (a.createdAt === b.createdAt ? b.id.localeCompare(a.id) : b.createdAt.localeCompare(a.createdAt)));
  return { records: items, bad };
}
