/** hostnic recover: finish every plan a dead hostnic left unfinished. */
import { EXIT } from '../errors.js';
import { Runner, unfinishedPlans } from '../runner.js';
import { reportFailure } from '../cli/execute.js';
import type { Ctx } from '../cli/context.js';

export async function recoverCommand(ctx: Ctx): Promise<number> {
  await ctx.state.lock();
  const { journals, bad } = unfinishedPlans(ctx.state);
  for (const b of bad) process.stderr.write(`hostnic: cannot read ${b.file}: ${b.error} (move it aside to continue)\n`);
  if (journals.length === 0) {
    if (ctx.json) ctx.emit({ recovered: [], unreadable: bad });
    else ctx.say('nothing to recover');
    return bad.length ? EXIT.rolledBack : EXIT.ok;
  }
  let exit: number = EXIT.ok;
  const done = [];
  for (const j of journals) {
    const complete = j.phase === 'apply' && j.steps.every((s) => s.state === 'done');
    const outcome = await new Runner({ state: ctx.state, renderer: ctx.renderer }).recover(j);
    reportFailure(outcome);
    exit = Math.max(exit, outcome.exitCode);
    const action = complete ? 'completed' : 'rolled back';
    done.push({ id: j.id, title: j.title, pid: j.pid, action, ok: outcome.exitCode === EXIT.ok });
    if (outcome.exitCode === EXIT.ok) ctx.say(`${action}: ${j.title} (left by pid ${j.pid} at ${j.startedAt})`);
  }
  if (ctx.json) ctx.emit({ recovered: done, unreadable: bad });
  // A journal it could not read may be an unfinished plan: not a success.
  return bad.length ? Math.max(exit, EXIT.rolledBack) : exit;
}
