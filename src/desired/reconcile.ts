/**
 * Make the live state equal the desired state (hostnic apply, hostnic
 * watch). Entries of different containers run side by side (a few workers,
 * each with its own locks, so they wait for each other as two processes
 * would); the entries of one container run one after another. Each entry is
 * its own journaled plan(s), rolled back alone. Never prints: returns the
 * report.
 */
import { basename } from 'node:path';
import { EXIT, HostnicError, RefusedError, signalExit } from '../errors.js';
import { loadRecords, recordForSpec, recordWanted, type AttachmentRecord } from '../records.js';
import { parseTarget } from '../request/parse.js';
import { resolveTarget, targetAlive } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import { Locks } from '../runner/locks.js';
import type { StateDir } from '../state.js';
import { applyEntry, giveBack, NotBackYet, stoppedMeanwhile } from './entry.js';
import { containerKey, type Desired, type DesiredEntry } from './parse.js';
import { outcomeError } from './run.js';
import type { EntryResult, ReconcileOptions, ReconcileReport, UnwantedResult } from './types.js';

export type { EntryResult, ReconcileOptions, ReconcileReport, UnwantedResult } from './types.js';

/** At most this many containers at once: enough to hide the waits on `ip` and the runtimes, few enough for a small VM. */
const WORKERS = 8;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Lock sets, made once per state directory and reused by every reconcile of
 * the process (watch calls it again and again, for several containers at
 * once; each Locks registers one exit handler for good). A set is lent to
 * one user at a time: a Locks treats what it holds as its holder's, so two
 * plans must never share one.
 */
const idle = new Map<string, Locks[]>();
async function withLocks<T>(state: StateDir, fn: (locks: Locks) => Promise<T>): Promise<T> {
  const free = idle.get(state.root) ?? [];
  idle.set(state.root, free);
  const locks = free.pop() ?? new Locks(state);
  try {
    return await fn(locks);
  } finally {
    locks.release();
    free.push(locks);
  }
}

/** What reconcile needs of a command's context. */
export interface ReconcileCtx {
  state: StateDir;
  dryRun: boolean;
}

export async function reconcile(ctx: ReconcileCtx, desired: Desired, opts: ReconcileOptions = {}): Promise<ReconcileReport> {
  const dryRun = opts.dryRun ?? ctx.dryRun;
  const only = opts.containers?.map(containerKey);
  const entries = desired.entries.filter((e) => !only || only.includes(containerKey(e.container)));
  const { records, bad } = loadRecords(ctx.state);
  // Record files that cannot be used (invalid, another schema, unreadable), by id: their NICs are left alone.
  const invalid = new Map(bad.filter((b) => /\/attachments\/[0-9a-f]+\.json$/.test(b.file)).map((b) => [basename(b.file, '.json'), `${b.file}: ${b.error}`]));

  // A signal lets the plans in flight finish or roll back (the runner's own handler), and starts no new entry.
  let signal: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals): void => { signal ??= s; };
  for (const s of SIGNALS) process.on(s, onSignal);
  const results = new Map<DesiredEntry, EntryResult>();
  // The containers as the entries resolved them: the unwanted check asks no runtime twice.
  const targets = new Map<string, Target | undefined>();
  try {
    const groups = new Map<string, DesiredEntry[]>();
    for (const e of entries) groups.set(containerKey(e.container), [...(groups.get(containerKey(e.container)) ?? []), e]);
    const queue = [...groups.values()];
    const worker = (): Promise<void> => withLocks(ctx.state, async (locks) => {
      for (let group = queue.shift(); group; group = queue.shift()) {
        for (const e of group) {
          if (signal) {
            results.set(e, { line: e.line, container: e.container, nic: e.nic, action: 'skipped', why: 'interrupted', detail: `not started: interrupted by ${signal}`, exitCode: 0 });
            continue;
          }
          try {
            results.set(e, await applyEntry(e, records, { state: ctx.state, locks, dryRun }, targets, invalid));
          } catch (err) {
            // A read in a namespace that went away meanwhile (the container restarted): waiting, not failed.
            const t = targets.get(containerKey(e.container));
            if (t && !(err instanceof RefusedError) && !targetAlive(t)) {
              results.set(e, stoppedMeanwhile(e, t, err));
              continue;
            }
            const msg = err instanceof Error ? err.message : String(err);
            results.set(e, { line: e.line, container: e.container, nic: e.nic, action: 'failed', detail: msg, error: msg, exitCode: err instanceof HostnicError && err.exitCode !== 2 ? err.exitCode : 1 });
          } finally {
            locks.release();
          }
        }
      }
    });
    await Promise.all(Array.from({ length: Math.min(WORKERS, queue.length) }, () => worker()));
    const unwanted = signal ? [] : await unwantedOf(ctx, records, entries, only, targets, { prune: !!opts.prune, dryRun });
    const list = entries.map((e) => results.get(e)!);
    const codes = [...list, ...unwanted].map((x) => x.exitCode);
    const exitCode = signal ? signalExit(signal) : Math.max(0, ...codes);
    return { path: desired.path, dryRun, entries: list, unwanted, exitCode, ...(signal ? { signal } : {}) };
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}


/**
 * Attachments hostnic made that no entry wants: listed, or with `prune`
 * detached (each its own plan). With `only`, just those of these containers.
 */
async function unwantedOf(
  ctx: ReconcileCtx, records: AttachmentRecord[], entries: DesiredEntry[], only: string[] | undefined,
  targets: Map<string, Target | undefined>, o: { prune: boolean; dryRun: boolean },
): Promise<UnwantedResult[]> {
  if (records.length === 0) return [];
  const resolved = async (container: string): Promise<Target | undefined> => {
    const key = containerKey(container);
    if (!targets.has(key)) targets.set(key, await resolveTarget(parseTarget(container)).catch(() => undefined));
    return targets.get(key);
  };
  const unwanted: AttachmentRecord[] = [];
  for (const rec of records) {
    let wanted = false;
    for (const e of entries) {
      if (recordWanted(rec, e.request) && recordForSpec(rec, e.request.target, await resolved(e.container))) wanted = true;
    }
    if (wanted) continue;
    if (only) {
      let ours = false;
      for (const c of only) if (recordForSpec(rec, parseTarget(c), await resolved(c))) ours = true;
      if (!ours) continue;
    }
    unwanted.push(rec);
  }
  const out: UnwantedResult[] = [];
  for (const rec of unwanted) {
    const base = { id: rec.id, nic: rec.input.host.name, target: rec.input.target.display };
    if (!o.prune) {
      out.push({ ...base, action: 'listed', detail: `${rec.input.host.name} in ${rec.input.target.display} as ${rec.input.ctrName}: no entry wants it (apply --prune detaches it)`, exitCode: 0 });
      continue;
    }
    await withLocks(ctx.state, async (locks) => {
      let outcome;
      try {
        outcome = await giveBack(rec, { state: ctx.state, locks, dryRun: o.dryRun });
      } catch (e) {
        if (!(e instanceof NotBackYet)) throw e;
        out.push({ ...base, action: 'failed', detail: `not detached: ${e.message}`, exitCode: 1 });
        return;
      }
      const err = outcomeError(outcome);
      // Home, but with an incomplete note (giveBack): detached all the same, and said (exit 3).
      if (outcome.exitCode === EXIT.incomplete && outcome.notDone?.length) {
        out.push({ ...base, action: 'detached', detail: `${rec.input.host.name} back from ${rec.input.target.display}; ${outcomeError(outcome) ?? ''}`, exitCode: EXIT.incomplete });
        return;
      }
      out.push(outcome.exitCode === 0
        ? { ...base, action: 'detached', detail: `${rec.input.host.name} back from ${rec.input.target.display}`, exitCode: 0, ...(outcome.dryRun ? { plans: [outcome.dryRun] } : {}) }
        : { ...base, action: 'failed', detail: `detaching ${rec.input.host.name}: ${err ?? 'failed'}`, exitCode: outcome.exitCode, ...(outcome.leftovers.length ? { leftovers: outcome.leftovers } : {}) });
    });
  }
  return out;
}
