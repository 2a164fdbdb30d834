/**
 * The one runner. Every command that changes the system (attach, detach,
 * doctor --fix, recover) hands it a Plan: a list of steps. The runner
 *
 *  - refuses a plan whose identities (NICs, doctor's host files) another
 *    unfinished plan touches, and runs one only under the locks of what it
 *    touches (src/runner/locks.ts);
 *  - journals each step to the state directory before it touches the system,
 *    with what the step captured for its undo, so a crash can be recovered;
 *  - runs consecutive `ip` steps of one namespace in one `ip -batch` process;
 *  - renders the steps (src/runner/render.ts);
 *  - on a failure, or SIGINT/SIGTERM/SIGHUP, undoes the started steps in
 *    reverse order, rendering that rollback too.
 *
 * Dry-run never reaches it: src/cli/execute.ts prints the plan instead.
 */
import { join } from 'node:path';
import { BatchError, batchKey, forRollback, render, run, runBatch, type Cmd } from './exec.js';
import { CommandError, EXIT, signalExit } from './errors.js';
import { capture, doCommands, Misplaced, mustCapture, nsGone, preflight, relocated, settled, undoCommands, undoTitle, withPlanNamespaces } from './steps/index.js';
import type { StepSpec } from './steps/types.js';
import { checkStep, problemOf } from './steps/validate.js';
import { managedFiles } from './host/paths.js';
import { SCHEMA, type StateDir } from './state.js';
import { FAULT, faultLike, hooks } from './runner/hooks.js';
import { finalize, journalProblem, ownPid, processStart, unfinishedTouching } from './runner/journal.js';
import type { Locks } from './runner/locks.js';
import { runTasks } from './runner/render.js';
import type { Journal, Leftover, Outcome, Plan, Renderer } from './runner/types.js';

export type * from './runner/types.js';
export { describeDryRun, previewCaptures, warmRenderer } from './runner/render.js';
export { hostnicAlive, unfinishedPlans, unfinishedTouching } from './runner/journal.js';
export { nsKey } from './runner/locks.js';

export interface RunOptions {
  state: StateDir;
  renderer: Renderer;
  /** The locks this process holds: a plan runs only while they cover what it touches. */
  locks: Locks;
}

const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

class Aborted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

/**
 * What a step saves before it runs (steps/types.ts capture), checked as the
 * journal check would check it: what a recover or a detach cannot read back
 * must not be journaled (a managed file found with a mode hostnic refuses to
 * restore, say). The step then fails before it changes anything.
 */
async function capturedChecked(spec: StepSpec): Promise<StepSpec['saved']> {
  const saved = await capture(spec);
  if (saved === undefined || spec.inverse) return saved; // an undo's was checked when its record was read
  const problem = problemOf(() => checkStep({ ...spec, saved }, managedFiles(), 'step'));
  if (problem) throw new Error(`what "${spec.title}" found before it ran cannot be kept for its undo: ${problem}; the step did not run`);
  return saved;
}

export class Runner {
  private signal?: NodeJS.Signals;
  private rollingBack = false;
  private journal!: Journal;
  private journalPath!: string;
  private saved = false;
  /** Commands of best-effort steps that failed (see StepSpec.bestEffort). */
  private notDone: Leftover[] = [];

  constructor(private readonly opts: RunOptions) {}

  private save(): void {
    this.opts.state.writeJson(this.journalPath, this.journal, { syncDir: !this.saved });
    this.saved = true;
  }

  /** The runner's invariants, checked before any step: the locks are held, and no other plan is unfinished on them. */
  private admit(id: string, title: string, touches: string[]): void {
    const missing = touches.filter((t) => !this.opts.locks.holds([t]));
    if (missing.length) throw new Error(`internal: "${title}" would run without holding the lock on ${missing.join(', ')}`);
    const refusal = unfinishedTouching(this.opts.state, touches, id);
    if (refusal) throw refusal;
  }

  /**
   * Runs of consecutive steps that can share one `ip -batch` process: no
   * capture to read in between, and every command `ip` in the same namespace
   * with the same global options. A test pause point splits a run at its own
   * index only. Returns, for each step, the index of the last step of its run.
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
    for (let i = 0; i < steps.length;) {
      const k = key(steps[i]!);
      let j = i + 1;
      while (k !== undefined && j < steps.length && !hooks.splitsAt(j) && (key(steps[j]!) === k || idle(steps[j]!))) j++;
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

  /**
   * Run a plan to the end, or roll it back. Throws (before any step) a
   * refusal when another unfinished plan touches what this one touches;
   * never throws for a step failure.
   */
  async run(plan: Plan): Promise<Outcome> {
    return withPlanNamespaces(nsIds(this.opts.locks.keys()), () => this.runPlan(plan));
  }

  private async runPlan(plan: Plan): Promise<Outcome> {
    const { state } = this.opts;
    this.admit(plan.id, plan.title, plan.touches);
    this.journalPath = join(state.journalDir, `${plan.id}.json`);
    this.journal = {
      schema: SCHEMA, id: plan.id, command: plan.command, title: plan.title, pid: ownPid(), pidStart: processStart(ownPid()),
      startedAt: new Date().toISOString(), phase: 'apply', touches: plan.touches, locks: this.opts.locks.keys(), finalize: plan.finalize,
      steps: plan.steps.map((spec) => ({ spec: { ...spec }, state: 'pending' })),
    };
    // A journal recover would refuse (runner/schema.ts) must not run: a crash would leave it unrecoverable.
    const problem = journalProblem(this.journal, `${plan.id}.json`);
    if (problem) throw new Error(`internal: plan "${plan.title}" would not be recoverable: ${problem}`);
    for (const s of SIGNALS) process.on(s, this.onSignal);
    try {
      this.save();
      let failure: Error | undefined;
      try {
        const end = this.batches(plan.steps);
        await runTasks(this.opts.renderer, plan.title, this.journal.steps.map((entry, i) => ({
          title: entry.spec.title,
          // The first step of a batch runs the whole batch; the others are done by then.
          task: () => (i === 0 || end[i - 1] !== end[i]
            ? (end[i] === i ? this.applyStep(i) : this.applyBatch(i, end[i]!))
            : Promise.resolve()),
        })));
        // Every step has run: the plan succeeded. A signal from here on (or
        // during the last step's last command) changes nothing: it is
        // recorded and said, not rolled back (the work is done and true).
        await hooks.pause(state, `before:${plan.steps.length}`);
      } catch (e) {
        failure = e as Error;
      }
      if (!failure) {
        finalize(state, this.journal);
        const late = this.signal ? { signal: this.signal } : {};
        if (this.notDone.length) return { exitCode: EXIT.incomplete, leftovers: [], notDone: this.notDone, ...late };
        return { exitCode: EXIT.ok, leftovers: [], ...late };
      }
      const leftovers = await this.rollback();
      const signal = failure instanceof Aborted ? failure.signal : this.signal;
      let exitCode: number = signal ? signalExit(signal) : EXIT.rolledBack;
      if (leftovers.length) exitCode = EXIT.incomplete;
      return { exitCode, error: failure, leftovers, signal };
    } finally {
      for (const s of SIGNALS) process.off(s, this.onSignal);
    }
  }

  private async applyStep(i: number): Promise<void> {
    const entry = this.journal.steps[i]!;
    this.checkAbort();
    await hooks.pause(this.opts.state, `before:${i}`);
    this.checkAbort();
    entry.spec.saved = await capturedChecked(entry.spec);
    await preflight(entry.spec, true);
    entry.state = 'applying';
    this.save();
    await hooks.pause(this.opts.state, `applying:${i}`);
    const cmds = doCommands(entry.spec);
    if (hooks.fault('FAIL', i)) cmds.push(FAULT);
    for (const [k, cmd] of cmds.entries()) {
      // Between commands, not after the last: a step whose commands all ran is done.
      if (k > 0) this.checkAbort();
      if (entry.spec.bestEffort && cmd !== FAULT) { // a test fault stays a hard failure
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
    }
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
    const { state } = this.opts;
    const entries = this.journal.steps.slice(from, to + 1);
    this.checkAbort();
    await hooks.pause(state, `before:${from}`);
    this.checkAbort();
    const look = new Map<string, Promise<unknown>>(); // one read per question for the whole batch
    for (const e of entries) {
      e.spec.saved = await capturedChecked(e.spec); // no system read: see mustCapture()
      await preflight(e.spec, true, look);
    }
    const cmds: { cmd: Cmd; step: number; n: number }[] = [];
    const sample = entries.flatMap((e) => doCommands(e.spec))[0] ?? FAULT;
    entries.forEach((e, k) => {
      const own = doCommands(e.spec);
      own.forEach((cmd, n) => cmds.push({ cmd, step: from + k, n }));
      // A test fault is a line the kernel refuses right after the step's own (partial: the step counts as applied).
      if (hooks.fault('FAIL', from + k)) cmds.push({ cmd: faultLike(sample), step: from + k, n: own.length });
    });
    for (const e of entries) e.state = 'applying';
    this.save();
    await hooks.pause(state, `applying:${from}`);
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
    await hooks.pause(state, `after:${to}`);
    this.markDone(from, to); // a signal now is seen before the next step starts (or, after the last, not at all)
  }

  /**
   * Undo every started step, newest first. It stops at the first undo that
   * fails: the earlier undos assume the later ones worked (deleting the
   * private namespace assumes the NIC left it). What is left stays in the
   * journal for `hostnic recover`, and is returned with its commands.
   *
   * Nothing is assumed about where things are: each undo re-reads where its
   * subject is now (a NIC that came back to the host as devN when its
   * container died; steps/types.ts `relocate`), and a command in a namespace
   * that is gone is done (what it would undo went with the namespace). So a
   * rollback, or a `recover` after any crash, can always finish.
   */
  async rollback(): Promise<Leftover[]> {
    this.rollingBack = true;
    this.journal.phase = 'rollback';
    this.save();
    /** What finishes a step from where its subject really is (Misplaced), by step index. */
    const byHand = new Map<number, string[]>();
    const started = this.journal.steps
      .map((entry, i) => ({ entry, i }))
      .filter(({ entry }) => entry.state !== 'pending' && entry.state !== 'undone')
      .reverse();
    // Each step as its undo ran (or would run) now: what a person is shown for what is left.
    const now = new Map<number, StepSpec | null>();
    await runTasks(this.opts.renderer, 'Rolling back', started.map(({ entry, i }) => ({
      title: undoTitle(entry.spec),
      task: async () => {
        await hooks.pause(this.opts.state, `undo:${i}`);
        entry.state = 'undoing';
        this.save();
        try {
          if (hooks.fault('UNDO_FAIL', i)) await run(FAULT);
          const spec = await relocated(entry.spec);
          now.set(i, spec);
          if (spec) {
            await preflight(spec, false);
            for (const cmd of undoCommands(spec)) await undoCommand(cmd);
            // Where it was found, the undo put it back; "already so" (no such device) must not hide a NIC
            // someone renamed or moved where the rollback could not find it.
            await settled(spec);
          }
          entry.state = 'undone';
        } catch (e) {
          entry.state = 'undo-failed';
          entry.error = (e as Error).message;
          if (e instanceof Misplaced) byHand.set(i, e.commands.map(render));
          throw e;
        } finally {
          this.save();
        }
      },
    }))).catch(() => undefined);
    this.rollingBack = false;
    const leftovers: Leftover[] = started
      .filter(({ entry }) => entry.state !== 'undone')
      .map(({ entry, i }) => {
        const spec = now.has(i) ? now.get(i) : entry.spec;
        return {
          title: undoTitle(entry.spec),
          error: entry.error ?? 'not attempted: an undo after it failed first',
          commands: byHand.get(i) ?? (spec ? undoCommands(spec).filter((c) => !nsGone(c.netns)).map(render) : []),
        };
      });
    if (leftovers.length === 0) this.opts.state.remove(this.journalPath);
    return leftovers;
  }

  /**
   * Resume the rollback of a journal left by a process that died (hostnic
   * recover), under the locks it ran with (the caller holds them).
   */
  async recover(journal: Journal): Promise<Outcome> {
    return withPlanNamespaces(nsIds(journal.locks), () => this.recoverJournal(journal));
  }

  private async recoverJournal(journal: Journal): Promise<Outcome> {
    const missing = journal.locks.filter((t) => !this.opts.locks.holds([t]));
    if (missing.length) throw new Error(`internal: recovering "${journal.title}" without holding the lock on ${missing.join(', ')}`);
    this.journal = journal;
    this.journalPath = join(this.opts.state.journalDir, `${journal.id}.json`);
    for (const s of SIGNALS) process.on(s, this.onSignal);
    try {
      if (journal.phase === 'apply' && journal.steps.every((s) => s.state === 'done')) {
        finalize(this.opts.state, journal);
        return { exitCode: EXIT.ok, leftovers: [] };
      }
      const leftovers = await this.rollback();
      return { exitCode: leftovers.length ? EXIT.incomplete : EXIT.ok, leftovers };
    } finally {
      for (const s of SIGNALS) process.off(s, this.onSignal);
    }
  }
}

/** The namespaces a plan locked (runner/locks.ts nsKey), as device:inode. */
function nsIds(locks: readonly string[]): string[] {
  return locks.filter((k) => k.startsWith('ns:')).map((k) => k.slice('ns:'.length));
}

/**
 * One command of an undo. In a namespace that is gone it is done: what it
 * would undo (an address, a route, a sysctl, the link's stay there) went
 * with the namespace.
 */
async function undoCommand(cmd: Cmd): Promise<void> {
  if (nsGone(cmd.netns)) return;
  try {
    if (!cmd.rollbackGuard || await cmd.rollbackGuard()) await run(forRollback(cmd));
  } catch (e) {
    if (!nsGone(cmd.netns)) throw e;
  }
}

/** A command killed or timed out while it ran: it may have done its work. */
function cutShort(e: unknown): boolean {
  return e instanceof CommandError && e.cutShort;
}
