/**
 * Journals on disk: a plan's steps and their state, written before each step
 * touches the system, removed when the plan finished or was rolled back. A
 * journal still there belongs to a running plan or to a hostnic that died.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT, HostnicError } from '../errors.js';
import { managedFiles } from '../host/paths.js';
import { isObject, ownPid, type StateDir } from '../state.js';
import { savedById } from '../steps/index.js';
import { checkJournal, checkStatePath, needPlanId } from './schema.js';
import { problemOf, type Bounds } from '../steps/validate.js';
import type { Journal } from './types.js';

/**
 * Why a journal (file `name` in the journal directory) must not run, or
 * undefined: its form, every step against its kind's schema
 * (steps/validate.ts), its id the file's name, its finalize paths records
 * in the state directory, its identities and locks what hostnic names.
 */
export function journalProblem(v: unknown, name: string, bounds: Bounds = managedFiles()): string | undefined {
  return problemOf(() => checkJournal(v, name, bounds));
}

/** Write and remove the records a finished plan asks for, then drop its journal. */
export function finalize(state: StateDir, journal: Journal): void {
  // What the record's own plan captured. The desired-state file's edit (desired/persist.ts, id
  // `desired.*`) rides in an attach's plan for its rollback only: detach never reads it, and a record
  // holds saved data only for steps of its attachment (records.ts recordProblem).
  const saved = savedById(journal.steps.map((s) => s.spec).filter((s) => !s.id.startsWith('desired.')));
  // A value that carries saved data keeps it, updated by the plan's (a DHCP renewal rewrites one step's).
  const merged = (v: Record<string, unknown>): Record<string, unknown> => ({ ...v, saved: { ...(isObject(v.saved) ? v.saved : {}), ...saved } });
  // Checked when the journal was read; again here, with the state directory as it is now (no symlink out of it).
  for (const w of journal.finalize.write ?? []) {
    state.writeJson(state.inside(checkStatePath(w.path, 'finalize.write')), w.saved ? merged(w.value) : w.value);
  }
  for (const r of journal.finalize.remove ?? []) state.remove(state.inside(checkStatePath(r, 'finalize.remove')));
  state.remove(join(state.journalDir, `${needPlanId(journal.id)}.json`));
}

/**
 * Plans whose journal is still there: running, or a hostnic died in the
 * middle of them. A journal that fails validation is in `bad` with why: it
 * is never run, and it blocks nothing (it is not trusted to name what it touches).
 */
export function unfinishedPlans(state: StateDir): { journals: Journal[]; bad: { file: string; error: string }[] } {
  const bounds = managedFiles();
  const { items, bad } = state.readAll<Journal>(state.journalDir, (v, name) => journalProblem(v, name, bounds));
  return { journals: items, bad };
}

/**
 * When process `pid` started (field 22 of /proc/PID/stat: clock ticks since
 * boot); undefined if there is no such process. With the pid, it names one
 * process for the life of the machine: a reused pid has a later start.
 */
export function processStart(pid: number, procRoot = '/proc'): number | undefined {
  try {
    const stat = readFileSync(join(procRoot, String(pid), 'stat'), 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces or ')': fields 3.. follow the last ')'.
    const start = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[22 - 3]);
    return Number.isInteger(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

export { ownPid };

/**
 * Is the hostnic that wrote this journal still running (not this process)?
 * The same pid with the same start time: a dead hostnic's pid given to
 * another process does not count. A journal without a start time cannot be
 * told from a reused pid, so its writer counts as gone.
 */
export function hostnicAlive(j: { pid: number; pidStart?: number }, procRoot = '/proc'): boolean {
  if (!Number.isInteger(j.pid) || j.pid <= 0 || j.pid === ownPid() || j.pidStart === undefined) return false;
  return processStart(j.pid, procRoot) === j.pidStart;
}

let warnedUnreadable = false;

/**
 * The refusal for a plan on identities another plan touches whose journal is
 * still there (its hostnic died, or it is running): undefined when there is
 * none. A journal that cannot be read does not block (status and detach must
 * keep working), but says so once: it may be a plan recover cannot finish.
 */
export function unfinishedTouching(state: StateDir, identities: string[], except?: string): HostnicError | undefined {
  // An empty identity (the MAC of a link that has none: tun, wireguard) names nothing.
  const ids = identities.filter((t) => t !== '');
  const { journals, bad } = unfinishedPlans(state);
  if (!warnedUnreadable) {
    for (const b of bad) process.stderr.write(`hostnic: warning: cannot read ${b.file} (${b.error}); if it is an unfinished plan, \`hostnic recover\` cannot finish it\n`);
    warnedUnreadable = true;
  }
  const hit = journals.find((j) => j.id !== except && j.touches.some((t) => ids.includes(t)));
  if (!hit) return undefined;
  const running = hostnicAlive(hit);
  return new HostnicError(
    `an unfinished plan (${hit.title}, started ${hit.startedAt} by pid ${hit.pid}${running ? ', still running' : ''}) touches ${hit.touches.find((t) => ids.includes(t))}`,
    EXIT.rolledBack,
    running ? 'wait for it to finish, then try again' : 'run `hostnic recover` to finish it, then try again',
  );
}
