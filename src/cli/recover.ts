/**
 * Finish every plan a dead hostnic left unfinished: roll it back, or complete
 * it when every step was done and only the record was missing. What
 * `hostnic recover` runs, and what `hostnic watch` runs when it starts (a
 * watch killed in the middle of a plan left that plan's journal).
 */
import { endOrphanClients, orphanLine } from '../dhcp/keeper.js';
import { EXIT, RefusedError } from '../errors.js';
import { hostnicAlive, Runner, unfinishedPlans, type Outcome, type Renderer } from '../runner.js';
import type { Locks } from '../runner/locks.js';
import type { StateDir } from '../state.js';

export interface Recovered {
  id: string;
  title: string;
  pid: number;
  startedAt: string;
  action: 'completed' | 'rolled back';
  ok: boolean;
  outcome: Outcome;
}

export interface RecoverResult {
  recovered: Recovered[];
  /** Journals that could not be read (they may be unfinished plans). */
  bad: { file: string; error: string }[];
  /** DHCP clients stopped because their target is gone (dhcp/keeper.ts). */
  orphans: number;
  /** 0, or the worst outcome; at least 1 when a journal could not be read. */
  exitCode: number;
}

export async function recoverAll(
  opts: { state: StateDir; renderer: Renderer; locks: Locks; dryRun?: boolean },
  tell: {
    bad?: (b: { file: string; error: string }) => void; each?: (r: Recovered) => void; orphan?: (line: string) => void;
    /** A plan whose hostnic runs (in progress, not unfinished), or whose locks another holds too long: not run now. */
    busy?: (j: { id: string; title: string; pid: number }, why: string) => void;
  } = {},
): Promise<RecoverResult> {
  const { state, locks } = opts;
  // A hostnic killed between a journal's temp file and its rename leaves the
  // temp file, and no journal to recover (nothing ran after it): remove it.
  if (!opts.dryRun) state.sweepTemporaries();
  const { journals, bad } = unfinishedPlans(state);
  for (const b of bad) tell.bad?.(b);
  let exit: number = EXIT.ok;
  const recovered: Recovered[] = [];
  for (const listed of journals) {
    // Under the locks the plan ran with: a plan still running is waited for (its hostnic may die, then
    // this finishes it). Not for ever: one that runs on (an attach may wait an hour for its DHCP lease)
    // is left to its hostnic, and the other journals are still recovered (a watch starting must not fail).
    try {
      await locks.take(listed.locks);
    } catch (e) {
      if (!(e instanceof RefusedError)) throw e;
      const running = hostnicAlive(listed);
      tell.busy?.(listed, running ? `still in progress (pid ${listed.pid})` : e.message);
      if (!running) exit = Math.max(exit, EXIT.rolledBack);
      continue;
    }
    try {
      // Read again under them: it may have finished meanwhile, or another recover finished it.
      const j = unfinishedPlans(state).journals.find((x) => x.id === listed.id);
      if (!j) continue;
      const complete = j.phase === 'apply' && j.steps.every((s) => s.state === 'done');
      const outcome = await new Runner({ state, renderer: opts.renderer, locks }).recover(j);
      exit = Math.max(exit, outcome.exitCode);
      const r: Recovered = {
        id: j.id, title: j.title, pid: j.pid, startedAt: j.startedAt,
        action: complete ? 'completed' : 'rolled back', ok: outcome.exitCode === EXIT.ok, outcome,
      };
      recovered.push(r);
      tell.each?.(r);
    } finally {
      locks.release();
    }
  }
  // DHCP clients that outlive their target (a `pid:` process that died, a --pid=host container): stopped.
  const orphans = opts.dryRun ? [] : await endOrphanClients(state);
  for (const o of orphans) tell.orphan?.(orphanLine(o.rec, o.pids));
  // A journal it could not read may be an unfinished plan: not a success.
  return { recovered, bad, orphans: orphans.length, exitCode: bad.length ? Math.max(exit, EXIT.rolledBack) : exit };
}
