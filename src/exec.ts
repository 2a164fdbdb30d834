/**
 * The one place where hostnic runs other programs.
 *
 * Every command is an argument array (never a shell string). A command may run
 * inside another network namespace: it is then wrapped in
 * `nsenter --net=PATH --`, which is also how it is printed, so what
 * `--dry-run` and `--verbose` show can be pasted into a root shell as is.
 */
import { execa } from 'execa';
import { CommandError } from './errors.js';

export interface Cmd {
  /** The program and its arguments. */
  argv: readonly string[];
  /** Path of a network namespace file to run in (e.g. /proc/123/ns/net); absent: hostnic's own. */
  netns?: string;
  /** Text for standard input (for `ip -batch -`). */
  input?: string;
  /**
   * stderr patterns that mean "already in the wanted state" (for example
   * "Cannot find device" when deleting): the command then counts as done.
   */
  tolerate?: RegExp;
  /**
   * stderr patterns that mean "this was already done". Accepted only while
   * rolling back or recovering, when a step may have been cut off half-way;
   * in a forward run they stay errors (they may mean a conflict).
   */
  idempotent?: RegExp;
  /** Its failure may leave part of it done (one netlink message setting several attributes). */
  partial?: boolean;
  /** Kill it after this long (a stuck daemon must not hang hostnic). Default 30 s. */
  timeoutMs?: number;
}

/** The command as a rollback runs it: "already done" counts as done. */
export function forRollback(cmd: Cmd): Cmd {
  if (!cmd.idempotent) return cmd;
  const tolerate = cmd.tolerate ? new RegExp(`${cmd.tolerate.source}|${cmd.idempotent.source}`) : cmd.idempotent;
  return { ...cmd, tolerate };
}

export interface TraceEvent {
  cmd: Cmd;
  ms: number;
  ok: boolean;
  stderr?: string;
}

export const execConfig: {
  /** When set, a mutating command is a bug: the runner must print, not run. */
  dryRun: boolean;
  trace?: (event: TraceEvent) => void;
} = { dryRun: false };

/** The argv actually executed, with the namespace wrapper applied. */
export function fullArgv(cmd: Cmd): string[] {
  return cmd.netns ? ['nsenter', `--net=${cmd.netns}`, '--', ...cmd.argv] : [...cmd.argv];
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;
function quote(arg: string): string {
  if (arg !== '' && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** A copy-pasteable rendering of a command (for dry-run, verbose and error hints). */
export function render(cmd: Cmd): string {
  const line = fullArgv(cmd).map(quote).join(' ');
  if (cmd.input === undefined) return line;
  return `${line} <<'EOF'\n${cmd.input.replace(/\n$/, '')}\nEOF`;
}

async function exec(cmd: Cmd): Promise<string> {
  const [file, ...args] = fullArgv(cmd);
  const started = performance.now();
  const result = await execa(file!, args, {
    input: cmd.input,
    reject: false,
    stripFinalNewline: false,
    env: { LC_ALL: 'C' },
    // Own process group: a Ctrl+C at the terminal reaches hostnic only, so a
    // rollback's commands are never killed half-way.
    detached: true,
    timeout: cmd.timeoutMs ?? 30_000,
  });
  const ms = performance.now() - started;
  const ok = result.exitCode === 0 || (!!cmd.tolerate && cmd.tolerate.test(String(result.stderr)));
  execConfig.trace?.({ cmd, ms, ok, stderr: ok ? undefined : String(result.stderr) });
  if (!ok) {
    const stderr = result.timedOut
      ? `timed out after ${cmd.timeoutMs ?? 30_000} ms`
      : result.failed && result.exitCode === undefined ? String(result.message) : String(result.stderr);
    throw new CommandError(fullArgv(cmd), result.exitCode, stderr);
  }
  return String(result.stdout);
}

/** Run a command that changes the system. */
export async function run(cmd: Cmd): Promise<string> {
  if (execConfig.dryRun) throw new Error(`internal: dry-run tried to run ${render(cmd)}`);
  return exec(cmd);
}

/** Run a command that only reads the system (allowed in dry-run). */
export function read(cmd: Cmd): Promise<string> {
  return exec(cmd);
}

/** Read a command's JSON output (`ip -json ...`). Empty output reads as []. */
export async function readJson<T>(cmd: Cmd): Promise<T> {
  const out = (await read(cmd)).trim();
  return (out === '' ? [] : JSON.parse(out)) as T;
}
