/**
 * The one runner. Every command that changes the system (attach, detach,
 * doctor --fix, recover) hands it a Plan: a list of steps. The runner
 *
 *  - journals each step to the state directory before it touches the system,
 *    with what the step captured for its undo, so a crash can be recovered;
 *  - renders the steps with listr2;
 *  - on a failure, or SIGINT/SIGTERM/SIGHUP, undoes the started steps in
 *    reverse order, rendering that rollback too;
 *  - in dry-run prints each step and its exact commands instead.
 */
import { join } from 'node:path';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { ListrRendererValue } from 'listr2';
import { BatchError, batchKey, forRollback, render, run, runBatch, execConfig } from './exec.js';
import { CommandError, EXIT, HostnicError } from './errors.js';
import { capture, doCommands, mustCapture, preflight, savedById, undoCommands, undoTitle } from './steps/index.js';
import type { StepSpec } from './steps/types.js';
import { SCHEMA, StateDir, isObject } from './state.js';

export type StepState = 'pending' | 'applying' | 'done' | 'undoing' | 'undone' | 'undo-failed';

export interface Finalize {
  /**
   * Records to write, paths relative to the state directory. With `saved`,
   * the value gets a `saved` field: what the steps captured, by step id.
   */
  write?: { path: string; value: Record<string, unknown>; saved?: boolean }[];
  /** Records to remove, paths relative to the state directory. */
  remove?: string[];
}

export interface Plan {
  id: string;
  command: string;
  title: string;
  steps: StepSpec[];
  /** Identities this plan touches (NIC names and MACs): others refuse while it is unfinished. */
  touches: string[];
  finalize: Finalize;
}

export interface Journal {
  schema: typeof SCHEMA;
  id: string;
  command: string;
  title: string;
  pid: number;
  startedAt: string;
  phase: 'apply' | 'rollback';
  touches: string[];
  finalize: Finalize;
  steps: { spec: StepSpec; state: StepState; error?: string }[];
}

export function isJournal(v: unknown): v is Journal {
  return isObject(v) && v.schema === SCHEMA && typeof v.id === 'string' && Array.isArray(v.steps);
}

export type Renderer = 'default' | 'simple' | 'silent';

export interface RunOptions {
  state: StateDir;
  renderer: Renderer;
}

export interface Leftover {
  title: string;
  error: string;
  commands: string[];
}

export interface Outcome {
  exitCode: number;
  error?: Error;
  leftovers: Leftover[];
  /** The plan finished, but these commands of best-effort steps failed (exit 3). */
  notDone?: Leftover[];
  signal?: NodeJS.Signals;
  /** In dry-run: the plan as it would run. */
  dryRun?: DryRunPlan;
}

export interface DryRunPlan {
  title: string;
  steps: { title: string; commands: string[] }[];
}

const SIGNAL_EXIT: Record<string, number> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm, SIGHUP: EXIT.sighup };

class Aborted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/** Test-only hooks, active only when HOSTNIC_TEST_HOOKS=1 (see test/README.md). */
const hooks = {
  on: process.env.HOSTNIC_TEST_HOOKS === '1',
  /**
   * Pause points: "before:N" / "after:N" (N = step index; "before:<number of
   * steps>" is after the last step, before the records are written),
   * "applying:N" (the journal says step N is applying, none of its commands
   * ran yet) and "undo:N" (in a rollback, before undoing step N): wait until
   * the marker file is removed.
   */
  async pause(state: StateDir, where: string): Promise<void> {
    if (!this.on || !(process.env.HOSTNIC_TEST_PAUSE ?? '').split(',').includes(where)) return;
    const marker = join(state.root, 'test-paused');
    writeFileSync(marker, `${where} ${process.pid}\n`, { mode: 0o600 });
    while (existsSync(marker)) await delay(10);
  },
  /**
   * Acknowledge a signal (<state>/test-signal, a line per signal), so a test
   * that signals a paused hostnic resumes it only once the signal is seen:
   * else the step can finish first and the signal land elsewhere.
   */
  signalled(state: StateDir, sig: NodeJS.Signals): void {
    if (this.on) appendFileSync(join(state.root, 'test-signal'), `${sig}\n`, { mode: 0o600 });
  },
  /** Make step N fail for real after its commands ran: a command the kernel refuses. */
  async fault(kind: 'FAIL' | 'UNDO_FAIL', index: number): Promise<void> {
    if (!this.on || process.env[`HOSTNIC_TEST_${kind}`] !== String(index)) return;
    await run({ argv: ['ip', 'link', 'set', 'dev', 'hostnic-test-fault', 'up'] });
  },
};

export class Runner {
  private signal?: NodeJS.Signals;
  private rollingBack = false;
  private journal!: Journal;
  private journalPath!: string;

  constructor(private readonly opts: RunOptions) {}

  private saved = false;
  /** Commands of best-effort steps that failed (see StepSpec.bestEffort). */
  private notDone: Leftover[] = [];

  private save(): void {
    this.opts.state.writeJson(this.journalPath, this.journal, { syncDir: !this.saved });
    this.saved = true;
  }

  /**
   * Runs of consecutive steps that can share one `ip -batch` process: no
   * capture to read in between, and every command `ip` in the same namespace
   * with the same global options. Off while test hooks are on (they pause and
   * fail at single steps). Returns, for each step, the index of the last step
   * of its run.
   */
  private batches(steps: StepSpec[]): number[] {
    const key = (s: StepSpec): string | undefined => {
      if (mustCapture(s) || s.bestEffort) return undefined;
      const keys = doCommands(s).map(batchKey);
      return keys.length && keys.every((k) => k !== undefined && k === keys[0]) ? keys[0] : undefined;
    };
    // A step with nothing to run (e.g. an undo that is a no-op) does not break a batch.
    const idle = (s: StepSpec): boolean => !mustCapture(s) && doCommands(s).length === 0;
    const end = steps.map((_, i) => i);
    if (hooks.on) return end;
    for (let i = 0; i < steps.length;) {
      const k = key(steps[i]!);
      let j = i + 1;
      while (k !== undefined && j < steps.length && (key(steps[j]!) === k || idle(steps[j]!))) j++;
      for (let x = i; x < j; x++) end[x] = j - 1;
      i = j;
    }
    return end;
  }

  private onSignal = (sig: NodeJS.Signals): void => {
    hooks.signalled(this.opts.state, sig);
    if (this.rollingBack || this.signal) {
      process.stderr.write('hostnic: rolling back, please wait\n');
      return;
    }
    this.signal = sig;
  };

  private checkAbort(): void {
    if (this.signal) throw new Aborted(this.signal);
  }

  /** Run a plan to the end, or roll it back. Never throws for a step failure. */
  async run(plan: Plan): Promise<Outcome> {
    const { state } = this.opts;
    this.journalPath = join(state.journalDir, `${plan.id}.json`);
    this.journal = {
      schema: SCHEMA, id: plan.id, command: plan.command, title: plan.title, pid: process.pid,
      startedAt: new Date().toISOString(), phase: 'apply', touches: plan.touches, finalize: plan.finalize,
      steps: plan.steps.map((spec) => ({ spec: { ...spec }, state: 'pending' })),
    };
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, this.onSignal);
    try {
      this.save();
      let failure: Error | undefined;
      try {
        const end = this.batches(plan.steps);
        await this.listr(plan.title, this.journal.steps.map((entry, i) => ({
          title: entry.spec.title,
          // The first step of a batch runs the whole batch; the others are done by then.
          task: () => (i === 0 || end[i - 1] !== end[i]
            ? (end[i] === i ? this.applyStep(i) : this.applyBatch(i, end[i]!))
            : Promise.resolve()),
        })), true);
        this.checkAbort();
        await hooks.pause(state, `before:${plan.steps.length}`);
        this.checkAbort();
      } catch (e) {
        failure = e as Error;
      }
      if (!failure) {
        finalize(state, this.journal);
        if (this.notDone.length) return { exitCode: EXIT.incomplete, leftovers: [], notDone: this.notDone };
        return { exitCode: EXIT.ok, leftovers: [] };
      }
      const leftovers = await this.rollback();
      const signal = failure instanceof Aborted ? failure.signal : this.signal;
      let exitCode: number = signal ? SIGNAL_EXIT[signal]! : EXIT.rolledBack;
      if (leftovers.length) exitCode = EXIT.incomplete;
      return { exitCode, error: failure, leftovers, signal };
    } finally {
      for (const s of signals) process.off(s, this.onSignal);
    }
  }

  private async applyStep(i: number): Promise<void> {
    const entry = this.journal.steps[i]!;
    this.checkAbort();
    await hooks.pause(this.opts.state, `before:${i}`);
    this.checkAbort();
    entry.spec.saved = await capture(entry.spec);
    await preflight(entry.spec, true);
    entry.state = 'applying';
    this.save();
    await hooks.pause(this.opts.state, `applying:${i}`);
    const cmds = doCommands(entry.spec);
    for (const [k, cmd] of cmds.entries()) {
      if (entry.spec.bestEffort) {
        try {
          await run(cmd);
        } catch (e) {
          if (cutShort(e)) throw e;
          this.notDone.push({ title: entry.spec.title, error: (e as Error).message, commands: [render(cmd)] });
        }
        continue;
      }
      try {
        await run(cmd);
      } catch (e) {
        // The first command failed and cannot have half-applied: the step
        // changed nothing, so the rollback must not "undo" it (that could
        // touch something that is not ours, e.g. a link that took its name).
        if (k === 0 && !cmd.partial && !cutShort(e)) {
          entry.state = 'pending';
          this.save();
        }
        throw e;
      }
      this.checkAbort();
    }
    await hooks.fault('FAIL', i);
    await hooks.pause(this.opts.state, `after:${i}`);
    this.markDone(i, i);
  }

  /**
   * Mark steps done. The journal is written again only after the last step:
   * the next step's write records it, and a crash before that leaves the
   * step "applying", which a rollback undoes (undos tolerate "already so").
   */
  private markDone(from: number, to: number): void {
    for (let k = from; k <= to; k++) this.journal.steps[k]!.state = 'done';
    if (to === this.journal.steps.length - 1) this.save();
  }

  /** Steps from..to in one `ip -batch` process (see batches()). */
  private async applyBatch(from: number, to: number): Promise<void> {
    const entries = this.journal.steps.slice(from, to + 1);
    this.checkAbort();
    for (const e of entries) {
      e.spec.saved = await capture(e.spec); // no system read: see mustCapture()
      await preflight(e.spec, true);
    }
    const cmds = entries.flatMap((e, k) => doCommands(e.spec).map((cmd, n) => ({ cmd, step: from + k, n })));
    for (const e of entries) e.state = 'applying';
    this.save();
    try {
      await runBatch(cmds.map((c) => c.cmd));
    } catch (e) {
      if (!(e instanceof BatchError)) throw e;
      // The batch stopped at one command: what came before it is done, what
      // came after never ran, and its own step is undone unless that command
      // was its first and cannot have half-applied.
      const failed = cmds[e.index]!;
      for (let k = from; k <= to; k++) {
        const entry = this.journal.steps[k]!;
        if (k < failed.step) entry.state = 'done';
        else if (e.unknown) entry.state = 'applying'; // any of them may have run: their undos accept "already so"
        else if (k > failed.step) entry.state = 'pending';
        else entry.state = failed.n === 0 && !failed.cmd.partial && !cutShort(e.cause) ? 'pending' : 'applying';
      }
      this.save();
      throw e.cause;
    }
    this.markDone(from, to);
    this.checkAbort();
  }

  /**
   * Undo every started step, newest first. It stops at the first undo that
   * fails: the earlier undos assume the later ones worked (deleting the
   * private namespace assumes the NIC left it). What is left stays in the
   * journal for `hostnic recover`, and is returned with its commands.
   */
  async rollback(): Promise<Leftover[]> {
    this.rollingBack = true;
    this.journal.phase = 'rollback';
    this.save();
    const leftovers: Leftover[] = [];
    const started = this.journal.steps
      .map((entry, i) => ({ entry, i }))
      .filter(({ entry }) => entry.state !== 'pending' && entry.state !== 'undone')
      .reverse();
    await this.listr('Rolling back', started.map(({ entry, i }) => ({
      title: undoTitle(entry.spec),
      task: async () => {
        await hooks.pause(this.opts.state, `undo:${i}`);
        entry.state = 'undoing';
        this.save();
        const cmds = undoCommands(entry.spec);
        try {
          await hooks.fault('UNDO_FAIL', i);
          await preflight(entry.spec, false);
          for (const cmd of cmds) {
            if (!cmd.rollbackGuard || await cmd.rollbackGuard()) await run(forRollback(cmd));
          }
          entry.state = 'undone';
        } catch (e) {
          entry.state = 'undo-failed';
          entry.error = (e as Error).message;
          throw e;
        } finally {
          this.save();
        }
      },
    })), true).catch(() => undefined);
    this.rollingBack = false;
    for (const { entry } of started) {
      if (entry.state === 'undone') continue;
      leftovers.push({
        title: undoTitle(entry.spec),
        error: entry.error ?? 'not attempted: an undo after it failed first',
        commands: undoCommands(entry.spec).map(render),
      });
    }
    if (leftovers.length === 0) this.opts.state.remove(this.journalPath);
    return leftovers;
  }

  /** Resume the rollback of a journal left by a process that died (hostnic recover). */
  async recover(journal: Journal): Promise<Outcome> {
    this.journal = journal;
    this.journalPath = join(this.opts.state.journalDir, `${journal.id}.json`);
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, this.onSignal);
    try {
      if (journal.phase === 'apply' && journal.steps.every((s) => s.state === 'done')) {
        finalize(this.opts.state, journal);
        return { exitCode: EXIT.ok, leftovers: [] };
      }
      const leftovers = await this.rollback();
      return { exitCode: leftovers.length ? EXIT.incomplete : EXIT.ok, leftovers };
    } finally {
      for (const s of signals) process.off(s, this.onSignal);
    }
  }

  private async listr(title: string, tasks: { title: string; task: () => Promise<void> }[], exitOnError: boolean): Promise<void> {
    const renderer = this.opts.renderer;
    if (renderer === 'silent') {
      // Nothing to show (--quiet, --json): the same sequence without loading
      // listr2 (about 30 ms of start-up that scripts attaching NICs at boot
      // would pay for nothing).
      let first: unknown;
      for (const t of tasks) {
        try {
          await t.task();
        } catch (e) {
          if (exitOnError) throw e;
          first ??= e;
        }
      }
      if (first !== undefined) throw first;
      return;
    }
    const { Listr } = await import('listr2');
    const list = new Listr(
      [{ title, task: (_ctx, task) => task.newListr(tasks, { exitOnError, concurrent: false }) }],
      {
        renderer: renderer as ListrRendererValue,
        registerSignalListeners: false,
        exitOnError,
        rendererOptions: { collapseSubtasks: false, showErrorMessage: true },
      },
    );
    await list.run();
    // With exitOnError=false listr2 swallows failures; report them to the caller.
    if (!exitOnError && list.errors.length) throw list.errors[0]!.error;
  }
}

/**
 * Set up the task-list renderer now, while hostnic waits for a child process:
 * its modules' set-up (a few ms of CPU) then runs beside the child instead of
 * after it. Nothing to set up when the renderer is silent.
 */
export function warmRenderer(renderer: Renderer): void {
  if (renderer !== 'silent') import('listr2').catch(() => undefined);
}

/** Write and remove the records a finished plan asks for, then drop its journal. */
export function finalize(state: StateDir, journal: Journal): void {
  const saved = savedById(journal.steps.map((s) => s.spec));
  for (const w of journal.finalize.write ?? []) {
    state.writeJson(join(state.root, w.path), w.saved ? { ...w.value, saved } : w.value);
  }
  for (const r of journal.finalize.remove ?? []) state.remove(join(state.root, r));
  state.remove(join(state.journalDir, `${journal.id}.json`));
}

/** A command killed or timed out while it ran: it may have done its work. */
function cutShort(e: unknown): boolean {
  return e instanceof CommandError && e.cutShort;
}

/** Is `pid` a live hostnic process other than this one (the pid of a dead one may have been reused)? */
export function hostnicAlive(pid: number, procRoot = '/proc'): boolean {
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    return readFileSync(join(procRoot, String(pid), 'cmdline'), 'utf8').split('\0').some((a) => /hostnic/.test(a));
  } catch {
    return false;
  }
}

/** Plans whose journal is still there: a hostnic died in the middle of them. */
export function unfinishedPlans(state: StateDir): { journals: Journal[]; bad: { file: string; error: string }[] } {
  const { items, bad } = state.readAll(state.journalDir, isJournal);
  return { journals: items, bad };
}

let warnedUnreadable = false;

/**
 * Refuse to touch a NIC while a plan that touched it is unfinished. A journal
 * that cannot be read does not block (status and detach must keep working),
 * but says so once: it may be a plan recover cannot finish.
 */
export function refuseIfUnfinished(state: StateDir, identities: string[]): void {
  const { journals, bad } = unfinishedPlans(state);
  if (!warnedUnreadable) {
    for (const b of bad) process.stderr.write(`hostnic: warning: cannot read ${b.file} (${b.error}); if it is an unfinished plan, \`hostnic recover\` cannot finish it\n`);
    warnedUnreadable = true;
  }
  const hit = journals.find((j) => j.touches.some((t) => identities.includes(t)));
  if (hit) {
    throw new HostnicError(
      `an unfinished plan (${hit.title}, started ${hit.startedAt} by pid ${hit.pid}) touches ${hit.touches[0]}`,
      EXIT.rolledBack,
      'run `hostnic recover` to finish it, then try again',
    );
  }
}

export function describeDryRun(plan: Plan): DryRunPlan {
  return {
    title: plan.title,
    steps: plan.steps.map((s) => ({ title: s.title, commands: doCommands(s).map(render) })),
  };
}

/** For dry-run: fill in what each capture would read now (read-only). */
export async function previewCaptures(plan: Plan): Promise<void> {
  for (const step of plan.steps) {
    try { step.saved = await capture(step); } catch { /* a link not there yet: nothing to show */ }
  }
}
