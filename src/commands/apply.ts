/** hostnic apply [-f FILE] [--prune] [--container REF]...: make the machine as the desired-state file says. */
import chalk from 'chalk';
import { defaultDesiredPath, loadDesired } from '../desired/file.js';
import { reconcile, type EntryResult, type ReconcileReport, type UnwantedResult } from '../desired/reconcile.js';
import { refuseOneNicTwice } from '../desired/same-nic.js';
import { loadRecords } from '../records.js';
import type { Ctx } from '../cli/context.js';

export interface ApplyArgs {
  file?: string;
  prune?: boolean;
  container?: string[];
}

export async function applyCommand(args: ApplyArgs, ctx: Ctx): Promise<number> {
  const desired = loadDesired(args.file || defaultDesiredPath());
  await refuseOneNicTwice(desired, loadRecords(ctx.state).records);
  const report = await reconcile(ctx, desired, {
    prune: !!args.prune, dryRun: ctx.dryRun, ...(args.container?.length ? { containers: args.container } : {}),
  });
  if (ctx.json) ctx.emit(report);
  else render(report, ctx);
  return report.exitCode;
}

type Paint = (s: string) => string;

/** The label of a result, padded before it is coloured (escape codes have no width). */
const pad = ([text, paint]: [string, Paint]): string => paint(text.padEnd(12));

function label(e: EntryResult, dry: boolean): string {
  if (e.action === 'skipped') {
    const why: Partial<Record<NonNullable<EntryResult['why']>, [string, Paint]>> = {
      'nic-missing': ['NIC missing', chalk.red], 'nic-returning': ['NIC not back', chalk.yellow], interrupted: ['not started', chalk.red], 'runtime-unavailable': ['runtime down', chalk.red],
    };
    return pad((e.why && why[e.why]) ?? ['waiting', chalk.dim]);
  }
  const labels: Record<Exclude<EntryResult['action'], 'skipped'>, [string, Paint]> = {
    'in-place': ['in place', chalk.green],
    attached: [dry ? 'would attach' : 'attached', chalk.green],
    repaired: [dry ? 'would repair' : 'repaired', chalk.yellow],
    failed: ['FAILED', chalk.red],
  };
  return pad(labels[e.action]);
}

function unwantedLabel(u: UnwantedResult, dry: boolean): string {
  if (u.action === 'listed') return pad(['unwanted', chalk.yellow]);
  if (u.action === 'failed') return pad(['FAILED', chalk.red]);
  return pad([dry ? 'would detach' : 'detached', chalk.green]);
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
    const line = `${label(e, dry)} ${e.container} ${e.nic} ${chalk.dim(`(line ${e.line})`)}: ${e.detail}`;
    if (e.exitCode === 0) ctx.say(line);
    else process.stderr.write(`hostnic: ${line}\n`);
    for (const b of e.besides ?? []) ctx.say(`    note: ${b}: changed besides hostnic's settings, left as it is`);
    plans(e.plans);
    leftovers(e.leftovers);
  }
  for (const u of report.unwanted) {
    const line = `${unwantedLabel(u, dry)} ${u.detail}`;
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
