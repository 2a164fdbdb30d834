/** hostnic recover: finish every plan a dead hostnic left unfinished. */
import { EXIT } from '../errors.js';
import { Runner, unfinishedPlans } from '../runner.js';
import { reportFailure } from '../cli/execute.js';
import type { Ctx } from '../cli/context.js';

export async function recoverCommand(ctx: Ctx): Promise<number> {
  // A hostnic killed between a journal's temp file and its rename leaves the
  // temp file, and no journal to recover (nothing ran after it): remove it.
  if (!ctx.dryRun) ctx.state.sweepTemporaries();
  const { journals, bad } = unfinishedPlans(ctx.state);
  // Never run: a journal that fails validation (steps/validate.ts) stays where it is, for a person.
  for (const b of bad) {
    process.stderr.write(b.error.startsWith('invalid: ')
      ? `hostnic: not running ${b.file}: ${b.error}; left in place (look at it, then move it aside to continue)\n`
      : `hostnic: cannot read ${b.file}: ${b.error} (move it aside to continue)\n`);
  }
  let exit: number = EXIT.ok;
  const done = [];
  for (const listed of journals) {
    // Under the locks the plan ran with: a plan still running is waited for.
    await ctx.locks.take(listed.locks);
    try {
      // Read again under them: it may have finished meanwhile, or another recover finished it.
      const j = unfinishedPlans(ctx.state).journals.find((x) => x.id === listed.id);
      if (!j) continue;
      const complete = j.phase === 'apply' && j.steps.every((s) => s.state === 'done');
      const outcome = await new Runner({ state: ctx.state, renderer: ctx.renderer, locks: ctx.locks }).recover(j);
      reportFailure(outcome);
      exit = Math.max(exit, outcome.exitCode);
      const action = complete ? 'completed' : 'rolled back';
      done.push({ id: j.id, title: j.title, pid: j.pid, action, ok: outcome.exitCode === EXIT.ok });
      if (outcome.exitCode === EXIT.ok) ctx.say(`${action}: ${j.title} (left by pid ${j.pid} at ${j.startedAt})`);
    } finally {
      ctx.locks.release();
    }
  }
  if (ctx.json) ctx.emit({ recovered: done, unreadable: bad });
  else if (done.length === 0) ctx.say('nothing to recover');
  // A journal it could not read may be an unfinished plan: not a success.
  return bad.length ? Math.max(exit, EXIT.rolledBack) : exit;
}
