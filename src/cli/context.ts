/** What every command gets from the global options. */
import chalk from 'chalk';
import { execConfig, render } from '../exec.js';
import type { Renderer } from '../runner.js';
import { Locks } from '../runner/locks.js';
import { StateDir, defaultStateDir } from '../state.js';

export interface GlobalOptions {
  stateDir?: string;
  verbose?: boolean;
  dryRun?: boolean;
  quiet?: boolean;
  json?: boolean;
  color?: boolean;
}

export interface Ctx {
  state: StateDir;
  dryRun: boolean;
  verbose: boolean;
  quiet: boolean;
  json: boolean;
  renderer: Renderer;
  /** The locks this process holds (per NIC, per namespace): take what a plan touches before looking. */
  locks: Locks;
  /** A line of normal output (suppressed by --quiet and --json). */
  say(line: string): void;
  /** The one JSON document of --json. */
  emit(doc: unknown): void;
}

export function makeContext(o: GlobalOptions): Ctx {
  const json = !!o.json;
  const quiet = !!o.quiet;
  const verbose = !!o.verbose;
  const plain = !process.stdout.isTTY || !!process.env.CI || verbose;
  const renderer: Renderer = json || quiet ? 'silent' : plain ? 'simple' : 'default';
  execConfig.dryRun = !!o.dryRun;
  // An explicit --color/--no-color wins over FORCE_COLOR and NO_COLOR (chalk
  // lets the environment win); otherwise chalk honours FORCE_COLOR, NO_COLOR
  // and whether stdout is a terminal.
  if (o.color === false) chalk.level = 0;
  else if (o.color === true) {
    if (chalk.level === 0) chalk.level = 1;
  }
  else if (process.env.NO_COLOR && process.env.FORCE_COLOR === undefined) chalk.level = 0; // no-color.org
  if (verbose) {
    execConfig.trace = ({ cmd, ms, ok }) => {
      process.stderr.write(`${chalk.dim(`  $ ${render(cmd)}`)} ${ok ? chalk.dim(`(${ms.toFixed(1)} ms)`) : chalk.red(`failed after ${ms.toFixed(1)} ms`)}\n`);
    };
  }
  const state = new StateDir(o.stateDir || defaultStateDir());
  return {
    state,
    locks: new Locks(state),
    dryRun: !!o.dryRun,
    verbose,
    quiet,
    json,
    renderer,
    say: (line) => { if (!json && !quiet) process.stdout.write(`${line}\n`); },
    emit: (doc) => { process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`); },
  };
}
