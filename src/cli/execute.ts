/** Run a plan for a command, or print it (--dry-run), and report the outcome. */
import chalk from 'chalk';
import { EXIT } from '../errors.js';
import { Runner, describeDryRun, previewCaptures, unfinishedTouching, type Outcome, type Plan } from '../runner.js';
import type { Ctx } from './context.js';

export async function executePlan(plan: Plan, ctx: Ctx): Promise<Outcome> {
  if (ctx.dryRun) {
    // What Runner.run would refuse, a dry run refuses too.
    const refusal = unfinishedTouching(ctx.state, plan.touches, plan.id);
    if (refusal) throw refusal;
    await previewCaptures(plan);
    const desc = describeDryRun(plan);
    // With --json the command emits the plan(s) in its one document.
    if (!ctx.json) {
      process.stdout.write(`${chalk.bold(desc.title)} ${chalk.dim(`(dry run: ${desc.steps.length} steps, nothing changed)`)}\n`);
      desc.steps.forEach((s, i) => {
        process.stdout.write(`${String(i + 1).padStart(3)}. ${s.title}\n`);
        for (const c of s.commands) process.stdout.write(`${c.split('\n').map((l) => `       ${l}`).join('\n')}\n`);
      });
    }
    return { exitCode: EXIT.ok, leftovers: [], dryRun: desc };
  }
  ctx.state.ensure();
  const outcome = await new Runner({ state: ctx.state, renderer: ctx.renderer, locks: ctx.locks }).run(plan);
  reportFailure(outcome);
  return outcome;
}

/** Print why a plan failed and, when the rollback was incomplete, what is left and how to fix it. */
export function reportFailure(outcome: Outcome): void {
  const finished = outcome.exitCode === EXIT.ok || !!outcome.notDone?.length;
  if (finished && outcome.signal) {
    process.stderr.write(`hostnic: ${outcome.signal} arrived after the last step had run: the plan is complete and recorded, not rolled back\n`);
  }
  if (outcome.exitCode === EXIT.ok) return;
  if (outcome.notDone?.length) {
    process.stderr.write(`hostnic: done, but INCOMPLETE: ${outcome.notDone.length} command(s) failed:\n`);
    for (const l of outcome.notDone) {
      process.stderr.write(`  - ${l.title}: ${l.error}\n    to finish by hand:\n`);
      for (const c of l.commands) process.stderr.write(`      ${c}\n`);
    }
    return;
  }
  const why = outcome.signal ? `interrupted by ${outcome.signal}` : (outcome.error?.message ?? 'failed');
  if (outcome.leftovers.length === 0) {
    process.stderr.write(`hostnic: ${why}; every change was rolled back\n`);
    return;
  }
  process.stderr.write(`hostnic: ${why}; ROLLBACK INCOMPLETE, ${outcome.leftovers.length} change(s) left:\n`);
  for (const l of outcome.leftovers) {
    process.stderr.write(`  - ${l.title}: ${l.error}\n`);
    // No commands: hostnic does not know where its subject is (it says why); a person must find it first.
    if (l.commands.length) process.stderr.write('    to undo by hand:\n');
    for (const c of l.commands) process.stderr.write(`      ${c}\n`);
  }
  process.stderr.write('  or run `hostnic recover` to retry the rollback\n');
}
