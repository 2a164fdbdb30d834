/**
 * The form of a journal (runner/types.ts Journal), checked before recover,
 * status or the runner trusts one: a planted or damaged journal is reported,
 * never run. Each step is checked by steps/validate.ts; here the rest: the
 * id (hex, and the file's own name: it names the file recover removes),
 * the identities and locks (they name lock files), and the records that
 * finalize writes or removes (only records in the state directory).
 */
import { q } from '../request/text.js';
import { PCI_ADDRESS } from '../request/nic.js';
import {
  HEX_ID, Invalid, fail, isIfName, isLinkAddr, needArray, needHexId, needInt, needObject, needString,
} from '../steps/shapes.js';
import { checkStep, type Bounds } from '../steps/validate.js';
import { SCHEMA } from '../state.js';

const STATES = new Set(['pending', 'applying', 'done', 'undoing', 'undone', 'undo-failed']);

/** The records a plan may write or remove, relative to the state directory. */
const STATE_FILES = [/^attachments\/[0-9a-f]{1,64}\.json$/, /^doctor\/fix-[0-9a-f]{1,64}\.json$/];

/** A record path a journal's finalize names: `attachments/<hex>.json` or `doctor/fix-<hex>.json`, nothing else. Returns it. */
export function checkStatePath(v: unknown, at: string): string {
  if (typeof v !== 'string' || !STATE_FILES.some((re) => re.test(v))) {
    throw new Invalid(`${at}: ${typeof v === 'string' ? q(v) : typeof v} is not a record in the state directory`);
  }
  return v;
}

export const needPlanId = (v: unknown): string => needHexId(v, 'id');

/**
 * What a plan touches and the locks it holds (runner/locks.ts keys): a NIC
 * name, a link-layer address ('' for a link without one), a PCI address,
 * a namespace (`ns:DEV:INODE`), doctor's `doctor:fix`; in a journal also
 * `file:PATH` for a file hostnic manages (the desired-state file an attach
 * --persist or a detach edits: desired/persist.ts desiredKey).
 */
export function isIdentity(v: unknown): boolean {
  return v === '' || isIfName(v) || isLinkAddr(v) || v === 'doctor:fix'
    || (typeof v === 'string' && (/^ns:\d+:\d+$/.test(v) || PCI_ADDRESS.test(v)));
}

export function checkJournal(v: unknown, name: string, bounds: Bounds): void {
  const j = needObject(v, 'journal', ['schema', 'id', 'command', 'title', 'pid', 'startedAt', 'phase', 'touches', 'locks', 'finalize', 'steps'], ['pidStart']);
  if (j.schema !== SCHEMA) fail('schema', `${String(j.schema)} is not ${SCHEMA}`);
  const id = needHexId(j.id, 'id');
  if (name !== `${id}.json`) fail('id', `${q(id)} is not the file's own name`);
  needString(j.command, 'command', 64);
  needString(j.title, 'title');
  needInt(j.pid, 'pid', 1, 0x3fffffff);
  if (j.pidStart !== undefined) needInt(j.pidStart, 'pidStart', 0, Number.MAX_SAFE_INTEGER);
  needString(j.startedAt, 'startedAt', 64);
  if (j.phase !== 'apply' && j.phase !== 'rollback') fail('phase', 'not apply or rollback');
  for (const field of ['touches', 'locks'] as const) {
    needArray(j[field], field, { max: 256 }).forEach((t, i) => {
      const file = typeof t === 'string' && t.startsWith('file:') && bounds.managesFile(t.slice('file:'.length));
      if (!isIdentity(t) && !file) fail(`${field}[${i}]`, `${typeof t === 'string' ? q(t) : typeof t} names no NIC, namespace, doctor lock or file hostnic manages`);
    });
  }
  const f = needObject(j.finalize, 'finalize', [], ['write', 'remove']);
  if (f.write !== undefined) {
    needArray(f.write, 'finalize.write', { max: 256 }).forEach((w, i) => {
      const at = `finalize.write[${i}]`;
      const o = needObject(w, at, ['path', 'value'], ['saved']);
      const path = checkStatePath(o.path, `${at}.path`);
      const value = needObject(o.value, `${at}.value`, ['id'], Object.keys(o.value ?? {}));
      if (!HEX_ID.test(String(value.id)) || !path.endsWith(`${String(value.id)}.json`)) fail(`${at}.value.id`, 'is not the id in its path');
      if (o.saved !== undefined && typeof o.saved !== 'boolean') fail(`${at}.saved`, 'not true or false');
    });
  }
  if (f.remove !== undefined) needArray(f.remove, 'finalize.remove', { max: 256 }).forEach((r, i) => checkStatePath(r, `finalize.remove[${i}]`));
  needArray(j.steps, 'steps', { max: 4096 }).forEach((e, i) => {
    const entry = needObject(e, `steps[${i}]`, ['spec', 'state'], ['error']);
    if (!STATES.has(entry.state as string)) fail(`steps[${i}].state`, `${q(String(entry.state))} is not a step state`);
    // A command's stderr: several lines, shown as it was.
    if (entry.error !== undefined && typeof entry.error !== 'string') fail(`steps[${i}].error`, 'not a string');
    checkStep(entry.spec, bounds, `steps[${i}]`);
  });
}
