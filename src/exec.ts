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
  /**
   * A read-only check that a rollback makes before running the command:
   * false means that what the command names is no longer ours (a link that
   * took the name meanwhile), so the rollback leaves it alone.
   */
  rollbackGuard?: () => Promise<boolean>;
  /** Environment variables set for it, over hostnic's own (a CNI plugin's arguments). */
  env?: Record<string, string>;
  /** Kill it after this long (a stuck daemon must not hang hostnic). Default 30 s. */
  timeoutMs?: number;
}

/** The command as a rollback runs it: "already done" counts as done. */
export function forRollback(cmd: Cmd): Cmd {
  if (!cmd.idempotent) return cmd;
  const flags = [...new Set(cmd.tolerate?.flags + cmd.idempotent.flags)].join('');
  const tolerate = cmd.tolerate ? new RegExp(`(?:${cmd.tolerate.source})|(?:${cmd.idempotent.source})`, flags) : cmd.idempotent;
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
  const env = Object.entries(cmd.env ?? {}).map(([k, v]) => `${k}=${quote(v)} `).join('');
  const line = env + fullArgv(cmd).map(quote).join(' ');
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
    env: { ...cmd.env, LC_ALL: 'C' },
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
    throw new CommandError(fullArgv(cmd), result.exitCode, stderr, !!(result.timedOut || result.isTerminated), String(result.stdout ?? ''));
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

/**
 * The key under which commands can share one `ip -batch -` process: same
 * namespace, `ip` with the same global options, nothing a batch line cannot
 * carry (no stdin; no `"`, `'`, `\`, `#` or newline in an argument (ip reads quotes of both kinds), while spaces
 * and empty arguments are quoted; no `ip netns`, which switches the
 * process's own namespace). undefined: not batchable.
 */
export function batchKey(cmd: Cmd): string | undefined {
  const [prog, ...rest] = cmd.argv;
  if (prog !== 'ip' || cmd.input !== undefined) return undefined;
  const globals: string[] = [];
  let i = 0;
  while (rest[i]?.startsWith('-')) globals.push(rest[i++]!);
  if (rest[i] === undefined || rest[i] === 'netns') return undefined;
  if (rest.some((a) => /["'\\#\n\r]/.test(a))) return undefined;
  return `${cmd.netns ?? ''}\u0000${globals.join(' ')}`;
}

/**
 * Run commands that share a batchKey in as few `ip -batch -` processes as
 * possible. The batch stops at the first failing line ("Command failed -:N");
 * if that command tolerates the error, the rest runs in a new batch.
 * A failure throws a BatchError saying which command failed (an index into
 * `cmds`); the commands before it completed, those after it did not run.
 */
export async function runBatch(cmds: readonly Cmd[]): Promise<void> {
  if (execConfig.dryRun) throw new Error('internal: dry-run tried to run a batch');
  let from = 0;
  while (from < cmds.length) {
    const part = cmds.slice(from);
    const first = part[0]!;
    const globals = first.argv.slice(1).filter((a, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('-')));
    const lines = part.map((c) => `${c.argv.slice(1 + globals.length).map(batchArg).join(' ')}\n`).join('');
    const batch: Cmd = { argv: ['ip', ...globals, '-batch', '-'], netns: first.netns, input: lines, timeoutMs: first.timeoutMs };
    try {
      await exec(batch);
      return;
    } catch (e) {
      if (!(e instanceof CommandError)) throw e;
      const m = /Command failed -:(\d+)/.exec(e.stderr);
      // Killed, timed out, or stopped without saying which line failed (ip exits at once on an
      // argument it cannot parse, e.g. a namespace path that is gone): any of the remaining lines may have run.
      if (!m) throw new BatchError(from, e, true);
      const failed = from + Number(m[1]) - 1;
      const cmd = cmds[failed]!;
      const message = e.stderr.slice(0, m.index);
      if (cmd.tolerate && cmd.tolerate.test(message)) {
        from = failed + 1;
        continue;
      }
      throw new BatchError(failed, new CommandError(fullArgv(cmd), e.exitCode, message));
    }
  }
}

/** One argument in an `ip -batch` line: quoted when empty or holding spaces (batchKey rules out the rest). */
function batchArg(a: string): string {
  return a === '' || /\s/.test(a) ? `"${a}"` : a;
}

/** A batch failed at command `index` (of the commands given to runBatch). */
export class BatchError extends Error {
  /** `unknown`: the batch did not say which line failed, so any command from `index` on may have run. */
  constructor(readonly index: number, override readonly cause: CommandError, readonly unknown = false) {
    super(cause.message);
    this.name = 'BatchError';
  }
}

/**
 * Several `ip -json` reads in one process (`ip -json -batch -`): one JSON
 * document per line of output, in the order of `lines` (each line is what
 * follows `ip <globals>`).
 */
export async function readBatch<T extends unknown[]>(globals: readonly string[], lines: readonly string[][], netns?: string): Promise<T> {
  const out = await read({ argv: ['ip', ...globals, '-json', '-batch', '-'], netns, input: lines.map((l) => `${l.join(' ')}\n`).join('') });
  const docs = out.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as unknown);
  if (docs.length !== lines.length) throw new Error(`ip -batch gave ${docs.length} answers to ${lines.length} questions`);
  return docs as T;
}

/**
 * Run a long-lived reader (`podman events`, `ctr events`) and yield its
 * output line by line as it comes, without keeping it: a stream that runs
 * for days must not grow. Ends when the program exits (throws with its last
 * line of stderr if it failed) or quietly when `signal` aborts (the program
 * is then killed). `timeoutMs` is ignored: such a program runs until told.
 */
export async function* streamLines(cmd: Cmd, signal: AbortSignal): AsyncGenerator<string, void, undefined> {
  if (signal.aborted) return;
  const [file, ...args] = fullArgv(cmd);
  const sub = execa(file!, args, {
    env: { LC_ALL: 'C' },
    stdin: 'ignore',
    reject: false,
    cancelSignal: signal,
    buffer: { stdout: false, stderr: true },
    maxBuffer: { stderr: 64 * 1024 },
  });
  try {
    for await (const line of sub.iterable({ from: 'stdout' })) {
      if (signal.aborted) return;
      yield String(line);
    }
  } catch {
    // The program failed: its result below says how.
  } finally {
    if (sub.exitCode === null) sub.kill();
  }
  const result = await sub;
  if (signal.aborted) return;
  const why = String(result.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? `exit ${result.exitCode ?? result.signal}`;
  throw new CommandError(fullArgv(cmd), result.exitCode, why);
}
