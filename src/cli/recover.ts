/**
 * Finish every plan a dead hostnic left unfinished: roll it back, or complete
 * it when every step was done and only the record was missing. What
 * `hostnic recover` runs, and what `hostnic watch` runs when it starts (a
 * watch killed in the middle of a plan left that plan's journal).
 */
import { endOrphanClients, orphanLine } from '../dhcp/keeper.js';
import { EXIT } from '../errors.js';
import { Runner, unfinishedPlans, type Outcome, type Renderer } from '../runner.js';
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
  tell: { bad?: (b: { file: string; error: string }) => void; each?: (r: Recovered) => void; orphan?: (line: string) => void } = {},
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
    // Under the locks the plan ran with: a plan still running is waited for.
    await locks.take(listed.locks);
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
