/** hostnic apply [-f FILE] [--prune] [--container REF]...: make the machine as the desired-state file says. */
import chalk from 'chalk';
import { defaultDesiredPath, loadDesired } from '../desired/file.js';
import { reconcile, type EntryResult, type ReconcileReport, type UnwantedResult } from '../desired/reconcile.js';
import type { Ctx } from '../cli/context.js';

export interface ApplyArgs {
  file?: string;
  prune?: boolean;
  container?: string[];
}

export async function applyCommand(args: ApplyArgs, ctx: Ctx): Promise<number> {
  const desired = loadDesired(args.file || defaultDesiredPath());
  const report = await reconcile(ctx, desired, {
    prune: !!args.prune, dryRun: ctx.dryRun, ...(args.container?.length ? { containers: args.container } : {}),
  });
  if (ctx.json) ctx.emit(report);
  else render(report, ctx);
  return report.exitCode;
}

const LABEL: Record<EntryResult['action'], (dry: boolean) => string> = {
  'in-place': () => chalk.green('in place'),
  attached: (dry) => chalk.green(dry ? 'would attach' : 'attached'),
  repaired: (dry) => chalk.yellow(dry ? 'would repair' : 'repaired'),
  skipped: () => chalk.dim('waiting'),
  failed: () => chalk.red('FAILED'),
};

function label(e: EntryResult, dry: boolean): string {
  if (e.action === 'skipped' && e.why === 'nic-missing') return chalk.red('NIC missing');
  if (e.action === 'skipped' && e.why === 'interrupted') return chalk.red('not started');
  return LABEL[e.action](dry);
}

function unwantedLabel(u: UnwantedResult, dry: boolean): string {
  if (u.action === 'listed') return chalk.yellow('unwanted');
  if (u.action === 'failed') return chalk.red('FAILED');
  return chalk.green(dry ? 'would detach' : 'detached');
}

function render(report: ReconcileReport, ctx: Ctx): void {
  const dry = report.dryRun;
  const plans = (list: { title: string; steps: { title: string; commands: string[] }[] }[] | undefined): void => {
    for (const p of list ?? []) {
      ctx.say(`    ${chalk.bold(p.title)} ${chalk.dim(`(dry run: ${p.steps.length} steps, nothing changed)`)}`);
      p.steps.forEach((s, i) => {
        ctx.say(`    ${String(i + 1).padStart(3)}. ${s.title}`);
        for (const c of s.commands) ctx.say(c.split('\n').map((l) => `           ${l}`).join('\n'));
      });
    }
  };
  if (report.entries.length === 0) ctx.say(`${report.path}: no entries`);
  for (const e of report.entries) {
    const line = `${label(e, dry).padEnd(12 + (chalk.level ? 10 : 0))} ${e.container} ${e.nic} ${chalk.dim(`(line ${e.line})`)}: ${e.detail}`;
    if (e.exitCode === 0) ctx.say(line);
    else process.stderr.write(`hostnic: ${line}\n`);
    for (const b of e.besides ?? []) ctx.say(`    note: ${b}: changed besides hostnic's settings, left as it is`);
    plans(e.plans);
    leftovers(e.leftovers);
  }
  for (const u of report.unwanted) {
    const line = `${unwantedLabel(u, dry).padEnd(12 + (chalk.level ? 10 : 0))} ${u.detail}`;
    if (u.exitCode === 0) ctx.say(line);
    else process.stderr.write(`hostnic: ${line}\n`);
    plans(u.plans);
    leftovers(u.leftovers);
  }
}

function leftovers(list: EntryResult['leftovers']): void {
  if (!list?.length) return;
  process.stderr.write(`  ROLLBACK INCOMPLETE, ${list.length} change(s) left:\n`);
  for (const l of list) {
    process.stderr.write(`  - ${l.title}: ${l.error}\n    to undo by hand:\n`);
    for (const c of l.commands) process.stderr.write(`      ${c}\n`);
  }
  process.stderr.write('  or run `hostnic recover` to retry the rollback\n');
}
