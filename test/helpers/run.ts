/**
 * Process helpers for the test harness: argument arrays only (never a shell
 * string), results as data, and no rejection on a non-zero exit.
 */
import { constants } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { execa } from 'execa';

export interface RunResult {
  /** The exit code; 128+N when killed by signal N; 127 when the program could not be started. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** Set when the process was killed by a signal (e.g. 'SIGKILL'). */
  signal?: string;
  /** Set when the harness killed it because `timeoutMs` ran out. */
  timedOut?: boolean;
}

export interface RunOptions {
  input?: string;
  /** The complete environment of the child (not merged with process.env). */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  /** Aborting kills the child (SIGTERM, then SIGKILL after 2 s). */
  cancelSignal?: AbortSignal;
}

function signalCode(signal: string | undefined): number | undefined {
  if (!signal) return undefined;
  const n = (constants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? undefined : 128 + n;
}

/** Run a command; never rejects. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  const r = await execa(file, args, {
    reject: false,
    ...(opts.input !== undefined ? { input: opts.input } : { stdin: 'ignore' as const }),
    ...(opts.env ? { env: opts.env, extendEnv: false } : {}),
    ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}),
    ...(opts.cancelSignal ? { cancelSignal: opts.cancelSignal } : {}),
    forceKillAfterDelay: 2000,
    stripFinalNewline: false,
  });
  const stdout = typeof r.stdout === 'string' ? r.stdout : '';
  let stderr = typeof r.stderr === 'string' ? r.stderr : '';
  let exitCode = r.exitCode ?? signalCode(r.signal);
  if (exitCode === undefined) {
    // Could not start at all (ENOENT, EACCES): report it like a shell would.
    exitCode = 127;
    stderr = stderr || String(r.message ?? r.originalMessage ?? 'could not start');
  }
  const result: RunResult = { exitCode, stdout, stderr };
  if (r.signal) result.signal = r.signal;
  if (r.timedOut) result.timedOut = true;
  return result;
}

/** Run a command that must succeed; throws with the command and its stderr otherwise. */
export async function must(argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.exitCode !== 0) {
    throw new Error(`command failed (exit ${r.exitCode}): ${argv.join(' ')}\n${r.stderr.trim()}`);
  }
  return r.stdout;
}

/** A netns name (in /run/netns) or a path (/proc/PID/ns/net, /run/netns/x) as a path. */
export function nsPath(ns: string): string {
  if (ns.startsWith('/')) return ns;
  if (ns === '' || ns.includes('/') || ns === '.' || ns === '..') throw new Error(`bad netns name: ${JSON.stringify(ns)}`);
  return `/run/netns/${ns}`;
}

/** argv that runs `argv` inside the network namespace `ns`. */
export function nsArgv(ns: string, argv: readonly string[]): string[] {
  return ['nsenter', `--net=${nsPath(ns)}`, '--', ...argv];
}

/** Run a command inside a network namespace; never rejects. */
export function inNs(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return run(nsArgv(ns, argv), opts);
}

/** Run a command inside a network namespace; throws when it fails. */
export function mustInNs(ns: string, argv: readonly string[], opts: RunOptions = {}): Promise<string> {
  return must(nsArgv(ns, argv), opts);
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------------------
// Live children (spawnHostnic): output collected from the start, so a test can
// wait for a marker, send a signal, then read the whole result.

interface Collected {
  stdout: string;
  stderr: string;
  done: Promise<RunResult>;
}
const collected = new WeakMap<ChildProcess, Collected>();

/** Start collecting a child's output and exit status (idempotent). */
export function collect(child: ChildProcess): Collected {
  const c = collected.get(child);
  if (c) return c;
  const box: Collected = { stdout: '', stderr: '', done: Promise.resolve({ exitCode: 0, stdout: '', stderr: '' }) };
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  child.stdout?.on('data', (d: string) => (box.stdout += d));
  child.stderr?.on('data', (d: string) => (box.stderr += d));
  box.done = new Promise<RunResult>((resolve) => {
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      const r: RunResult = { exitCode: code ?? signalCode(signal ?? undefined) ?? 127, stdout: box.stdout, stderr: box.stderr };
      if (signal) r.signal = signal;
      resolve(r);
    };
    if (child.exitCode !== null || child.signalCode !== null) {
      finish(child.exitCode, child.signalCode);
      return;
    }
    child.once('error', (err) => {
      box.stderr += String(err);
      resolve({ exitCode: 127, stdout: box.stdout, stderr: box.stderr });
    });
    // 'close' (not 'exit'): all output has been read by then.
    child.once('close', finish);
  });
  collected.set(child, box);
  return box;
}

/** Wait for a child to end; its whole output and exit status. */
export function waitForExit(child: ChildProcess): Promise<RunResult> {
  return collect(child).done;
}

/**
 * Wait until the child's stdout+stderr matches `pattern` (polling the output
 * collected so far); rejects when the child ends first or after `timeoutMs`.
 */
export async function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  const box = collect(child);
  let ended = false;
  void box.done.then(() => (ended = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = box.stdout + box.stderr;
    const m = pattern.exec(text);
    if (m) return m[0];
    if (ended) throw new Error(`process ended before output matched ${pattern}:\n${text}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; output so far:\n${text}`);
    await delay(20);
  }
}
