/**
 * hostnic doctor [<nic>...] [--fix | --undo]
 *
 * Without options: run the checks (src/doctor/) and print each one.
 * `--fix`: the fix steps of every failing or warning check, as ONE plan
 * (src/plan/doctor.ts) run by the same runner as attach (a failure rolls back
 * the fixes already made), and, once it succeeded, a record of the steps with
 * what each one saved (src/doctor/records.ts). `--undo`: every recorded fix,
 * newest first, reverted as one plan; the records go when it succeeded.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import chalk from 'chalk';
import { render } from '../exec.js';
import { EXIT, RefusedError, UsageError } from '../errors.js';
import { inspectHost, runChecks, type Check, type DoctorOptions, type Verdict } from '../doctor/index.js';
import { FIX_DIR, fixRecordPath, loadFixRecords } from '../doctor/records.js';
import { FIX_TOKEN, fixPlan, undoPlan } from '../plan/doctor.js';
import { loadRecords } from '../records.js';
import { doCommands, leftAlone, leaveChanged } from '../steps/index.js';
import { executePlan } from '../cli/execute.js';
import type { Ctx } from '../cli/context.js';
import { wrap } from '../cli/table.js';

export interface DoctorArgs {
  nics?: string[];
  fix?: boolean;
  undo?: boolean;
  /** With --undo: put back also what a person changed after the fix. */
  force?: boolean;
}

// ---------------------------------------------------------------------------
// Output

export interface CheckJson {
  id: string;
  verdict: Verdict;
  title: string;
  why: string;
  nics: string[];
  /** null when the check passes. */
  fix: null | {
    summary: string;
    /** `hostnic doctor --fix` applies it (else it is for a person to do). */
    automatic: boolean;
    steps: { kind: string; title: string; commands: string[] }[];
  };
}

export function checkJson(c: Check): CheckJson {
  return {
    id: c.id,
    verdict: c.verdict,
    title: c.title,
    why: c.why,
    nics: c.nics ?? [],
    fix: c.fix
      ? {
          summary: c.fix.summary,
          automatic: c.fix.steps.length > 0,
          steps: c.fix.steps.map((s) => ({ kind: s.kind, title: s.title, commands: doCommands(s).map(render) })),
        }
      : null,
  };
}

export function counts(checks: readonly Check[]): Record<Verdict, number> {
  const out: Record<Verdict, number> = { ok: 0, warn: 0, fail: 0 };
  for (const c of checks) out[c.verdict]++;
  return out;
}

const problemsOf = (checks: readonly Check[]) => checks.filter((c) => c.verdict !== 'ok');
const automatic = (c: Check) => (c.fix?.steps.length ?? 0) > 0;

const VERDICT_COLOUR: Record<Verdict, (s: string) => string> = {
  ok: (s) => chalk.green(s),
  warn: (s) => chalk.yellow(s),
  fail: (s) => chalk.red.bold(s),
};

const ID_WIDTH = 16;

/** One check for people: verdict, id, title; for a problem (or with `all`) why it matters and its fix. */
export function formatCheck(c: Check, all: boolean, width: number): string[] {
  const indent = ' '.repeat(6);
  const head = `${VERDICT_COLOUR[c.verdict](c.verdict.padEnd(4))}  ${c.id.padEnd(ID_WIDTH)}  ${wrap(c.title, width - 6 - ID_WIDTH - 2, ' '.repeat(6 + ID_WIDTH + 2))}`;
  const lines = [head];
  if (c.verdict !== 'ok' || all) {
    const label = (l: string) => chalk.dim(l.padEnd(ID_WIDTH));
    lines.push(`${indent}${label('why')}  ${chalk.dim(wrap(c.why, width - 6 - ID_WIDTH - 2, ' '.repeat(6 + ID_WIDTH + 2)))}`);
    if (c.fix) {
      const how = automatic(c) ? 'fix' : 'fix by hand';
      const text = automatic(c) ? `${c.fix.summary} [hostnic doctor --fix]` : c.fix.summary;
      lines.push(`${indent}${label(how)}  ${wrap(text, width - 6 - ID_WIDTH - 2, ' '.repeat(6 + ID_WIDTH + 2))}`);
    }
  }
  return lines;
}

function textWidth(): number {
  const cols = process.stdout.isTTY ? process.stdout.columns : undefined;
  return Math.max(60, Math.min(cols ?? 100, 120));
}

function printChecks(ctx: Ctx, checks: readonly Check[]): void {
  const width = textWidth();
  for (const c of checks) for (const l of formatCheck(c, ctx.verbose, width)) ctx.say(l);
}

function summaryLine(checks: readonly Check[]): string {
  const n = counts(checks);
  const parts = [
    chalk.green(`${n.ok} ok`),
    n.warn ? chalk.yellow(`${n.warn} warn`) : `${n.warn} warn`,
    n.fail ? chalk.red(`${n.fail} fail`) : `${n.fail} fail`,
  ];
  return `${checks.length} checks: ${parts.join(', ')}`;
}

/** What to do next, for people. */
function advice(checks: readonly Check[]): string[] {
  const problems = problemsOf(checks);
  if (problems.length === 0) return ['Every check passes.'];
  const auto = problems.filter(automatic);
  const manual = problems.filter((c) => !automatic(c));
  const out: string[] = [];
  if (auto.length) out.push(`\`hostnic doctor --fix\` fixes ${auto.map((c) => c.id).join(', ')} (add --dry-run to see the commands first; \`hostnic doctor --undo\` reverts it).`);
  if (manual.length) out.push(`By hand: ${manual.map((c) => c.id).join(', ')} (see "fix" above).`);
  return out;
}

// ---------------------------------------------------------------------------
// The command

function doctorOptions(ctx: Ctx, nics: string[]): DoctorOptions {
  return { ...(nics.length ? { nics } : {}), paths: { stateDir: ctx.state.root } };
}

/** The checks, after making sure every named NIC is here. */
async function check(ctx: Ctx, names: string[]): Promise<Check[]> {
  const opts = doctorOptions(ctx, names);
  const view = await inspectHost(opts);
  for (const name of names) {
    if (view.nics.some((n) => n.name === name)) continue;
    const rec = loadRecords(ctx.state).records.find((r) => r.input.host.name === name);
    if (rec) {
      throw new UsageError(`${name} is attached to ${rec.input.target.display}: it is not in this namespace`, 'the checks are about NICs of the host; `hostnic status` checks attachments');
    }
    throw new UsageError(`no NIC named ${name} here`, `NICs here: ${view.nics.map((n) => n.name).join(', ') || '(none)'}`);
  }
  return runChecks(opts, view);
}

export async function doctorCommand(args: DoctorArgs, ctx: Ctx): Promise<number> {
  const names = [...new Set(args.nics ?? [])];
  if (args.fix && args.undo) throw new UsageError('--fix and --undo exclude each other');
  if (args.force && !args.undo) throw new UsageError('--force goes with --undo: it puts back what a person changed after the fix');
  if (args.undo) {
    if (names.length) throw new UsageError('--undo reverts every recorded fix: it takes no NIC names');
    return undo(ctx, !!args.force);
  }
  if (args.fix) return fix(ctx, names);

  const checks = await check(ctx, names);
  const ok = problemsOf(checks).length === 0;
  if (ctx.json) {
    ctx.emit({ ok, counts: counts(checks), checks: checks.map(checkJson) });
  } else {
    printChecks(ctx, checks);
    ctx.say('');
    ctx.say(summaryLine(checks));
    for (const l of advice(checks)) ctx.say(l);
  }
  return ok ? EXIT.ok : EXIT.rolledBack;
}

async function fix(ctx: Ctx, names: string[]): Promise<number> {
  // Host-wide files and the NICs named; the runner refuses a plan an unfinished one conflicts with.
  if (!ctx.dryRun) await ctx.locks.take([FIX_TOKEN, ...names]);
  const before = await check(ctx, names);
  const problems = problemsOf(before);
  const fixable = problems.filter(automatic);
  if (!ctx.json) printChecks(ctx, before);

  if (fixable.length === 0) {
    const ok = problems.length === 0;
    if (ctx.json) ctx.emit({ ok, counts: counts(before), checks: before.map(checkJson), fixed: null, before: before.map(checkJson) });
    else {
      ctx.say('');
      ctx.say(summaryLine(before));
      ctx.say(ok
        ? 'Nothing to fix: every check passes.'
        : `Nothing hostnic can fix by itself; by hand: ${problems.map((c) => c.id).join(', ')} (see "fix" above).`);
    }
    return ok ? EXIT.ok : EXIT.rolledBack;
  }

  const id = randomBytes(4).toString('hex');
  const plan = fixPlan(fixable, id, new Date().toISOString());
  const record = fixRecordPath(id);
  if (!ctx.dryRun && !ctx.locks.holds(plan.touches)) {
    // NICs checked before they were locked: check again under the locks; go on only if the same fixes are due.
    await ctx.locks.take(plan.touches);
    const due = (cs: Check[]): string => JSON.stringify(cs.map((c) => [c.id, c.nics ?? []]));
    if (due(problemsOf(await check(ctx, names)).filter(automatic)) !== due(fixable)) {
      throw new RefusedError('the host changed while doctor looked at it (another hostnic?)', 'run hostnic doctor --fix again');
    }
  }
  if (!ctx.dryRun) {
    ctx.state.ensure();
    mkdirSync(join(ctx.state.root, FIX_DIR), { recursive: true, mode: 0o700 });
  }
  if (!ctx.json) ctx.say('');
  const outcome = await executePlan(plan, ctx);
  if (ctx.dryRun) {
    if (ctx.json) ctx.emit({ dryRun: true, plan: outcome.dryRun, counts: counts(before), checks: before.map(checkJson) });
    return EXIT.ok;
  }
  if (outcome.exitCode !== EXIT.ok) {
    if (ctx.json) {
      ctx.emit({
        ok: false, exitCode: outcome.exitCode, error: outcome.error?.message ?? null, leftovers: outcome.leftovers,
        counts: counts(before), checks: before.map(checkJson), fixed: null, before: before.map(checkJson),
      });
    }
    return outcome.exitCode;
  }

  const after = await check(ctx, names);
  const left = problemsOf(after);
  const fixed = { id, record: join(ctx.state.root, record), checks: fixable.map((c) => c.id), steps: plan.steps.map((s) => s.title) };
  if (ctx.json) {
    ctx.emit({ ok: left.length === 0, counts: counts(after), checks: after.map(checkJson), fixed, before: before.map(checkJson) });
  } else {
    ctx.say(`Fixed ${fixed.checks.join(', ')}; recorded in ${fixed.record} (\`hostnic doctor --undo\` reverts it).`);
    ctx.say('');
    ctx.say(`Checked again: ${summaryLine(after)}`);
    for (const c of left) for (const l of formatCheck(c, false, textWidth())) ctx.say(l);
    if (left.length) for (const l of advice(after)) ctx.say(l);
  }
  return left.length === 0 ? EXIT.ok : EXIT.rolledBack;
}

async function undo(ctx: Ctx, force: boolean): Promise<number> {
  if (!ctx.dryRun) await ctx.locks.take([FIX_TOKEN]);
  const { records, bad } = loadFixRecords(ctx.state);
  for (const b of bad) process.stderr.write(`hostnic: cannot read ${b.file}: ${b.error} (move it aside to continue)\n`);
  if (records.length === 0) {
    if (ctx.json) ctx.emit({ ok: bad.length === 0, undone: [] });
    else ctx.say(`Nothing to undo: no fix recorded in ${join(ctx.state.root, FIX_DIR)}.`);
    return bad.length ? EXIT.rolledBack : EXIT.ok;
  }
  // A fix's per-NIC settings went into the container with an attached NIC:
  // undone now, they would be skipped, and the detach would bring the fix's
  // values back. Detach first.
  const fixedNics = new Set(records.flatMap((r) => r.nics));
  // Those NICs locked before looking where they are; waiting for them let go of the lock on the records: read again.
  if (!ctx.dryRun && (await ctx.locks.take([...fixedNics])).waited) return undo(ctx, force);
  const attached = loadRecords(ctx.state).records.filter((a) => fixedNics.has(a.input.host.name));
  if (attached.length) {
    const a = attached[0]!.input;
    throw new UsageError(
      `${a.host.name} is attached to ${a.target.display}: the fix's settings on it went with it, so they cannot be undone now`,
      `detach it first (hostnic detach ${a.target.display} ${a.host.name}), then hostnic doctor --undo`,
    );
  }
  const id = randomBytes(4).toString('hex');
  const plan = undoPlan(records, id);
  // What a person changed after the fix stays, unless --force (read under the lock, just before).
  if (!force) plan.steps = await leaveChanged(plan.steps);
  const notes = leftAlone(plan.steps);
  if (!ctx.json) for (const n of notes) process.stderr.write(`hostnic: note: ${n} (--undo --force puts it back)\n`);
  const outcome = await executePlan(plan, ctx);
  const undone = records.map((r) => ({ id: r.id, createdAt: r.createdAt, checks: r.checks, steps: r.steps.map((s) => s.title) }));
  if (ctx.dryRun) {
    if (ctx.json) ctx.emit({ dryRun: true, plan: outcome.dryRun });
    return EXIT.ok;
  }
  if (outcome.exitCode !== EXIT.ok) {
    if (ctx.json) ctx.emit({ ok: false, exitCode: outcome.exitCode, error: outcome.error?.message ?? null, leftovers: outcome.leftovers, undone: [] });
    return outcome.exitCode;
  }
  if (ctx.json) ctx.emit({ ok: bad.length === 0, undone, ...(notes.length ? { leftAlone: notes } : {}) });
  else for (const u of undone) ctx.say(`Undone: the fix of ${u.checks.join(', ')} made at ${u.createdAt}.`);
  return bad.length ? EXIT.rolledBack : EXIT.ok;
}
