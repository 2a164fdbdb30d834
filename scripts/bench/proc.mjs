// Running programs for the benchmark: argument arrays only (no shell), timed
// from spawn to exit with the monotonic clock, every live child known so that
// Ctrl+C can reach it and the cleanup can wait for it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

/**
 * CPU time (ms, all CPUs) of this process's children that have exited and
 * been waited for, their own children included: fields 16 and 17 of
 * /proc/self/stat (cutime, cstime), in clock ticks: USER_HZ, which Linux
 * fixes at 100 for /proc (10 ms) whatever the kernel's own HZ.
 */
function childrenCpuMs() {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[16 - 3]) + Number(f[17 - 3])) * 10;
}

/** Children still running: pid -> ChildProcess. */
export const live = new Map();

/**
 * Run argv; never rejects on a non-zero exit. Returns
 * { code, signal, stdout, stderr, ms, cpuMs } where ms is spawn-to-exit wall
 * time and cpuMs the CPU time of the program and everything it ran (to 10 ms;
 * exact only when no other child of the bench ends meanwhile: the measured
 * rows run one at a time).
 * Each child gets its own process group (detached), as a command started
 * from a shell would: a terminal Ctrl+C reaches the bench only, which then
 * decides what the children get (hostnic: SIGINT, so it rolls back).
 */
export function run(argv, { env, input, timeoutMs = 120_000, cwd } = {}) {
  return new Promise((resolve, reject) => {
    const [file, ...args] = argv;
    const started = performance.now();
    const cpuBefore = childrenCpuMs();
    let child;
    try {
      child = spawn(file, args, {
        env: env ?? process.env,
        cwd,
        stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (e) {
      reject(e);
      return;
    }
    let stdout = '';
    let stderr = '';
    let exitedAt = 0;
    let exit = { code: null, signal: null };
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    if (input !== undefined) {
      child.stdin.on('error', () => { /* the program exited before reading all of it */ });
      child.stdin.end(input);
    }
    const timer = setTimeout(() => {
      stderr += `\n[bench] killed after ${timeoutMs} ms`;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    if (child.pid !== undefined) live.set(child.pid, child);
    child.once('error', (e) => {
      clearTimeout(timer);
      live.delete(child.pid);
      reject(new Error(`cannot run ${file}: ${e.message}`));
    });
    // Timing stops at exit; output is complete at close.
    child.once('exit', (code, signal) => {
      exitedAt = performance.now();
      exit = { code, signal };
    });
    child.once('close', () => {
      clearTimeout(timer);
      live.delete(child.pid);
      if (!exitedAt) exitedAt = performance.now();
      resolve({ code: exit.code, signal: exit.signal, stdout, stderr, ms: exitedAt - started, cpuMs: childrenCpuMs() - cpuBefore, startedAt: performance.timeOrigin + started });
    });
  });
}

/** Run argv and throw (with its stderr) unless it exits 0. */
export async function must(argv, opts) {
  const r = await run(argv, opts);
  if (r.code !== 0) {
    throw new Error(`${argv.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r;
}

/** The same command run inside a network namespace (a path: /run/netns/X or /proc/PID/ns/net). */
export const inNs = (nsPath, argv) => ['nsenter', `--net=${nsPath}`, '--', ...argv];

/** Send a signal to every live child's process group. */
export function signalAll(signal) {
  for (const child of live.values()) {
    try { process.kill(-child.pid, signal); } catch { /* gone */ }
  }
}

/** Wait until every live child has exited (SIGKILL after `ms`). */
export async function drain(ms = 15_000) {
  const deadline = Date.now() + ms;
  while (live.size > 0) {
    if (Date.now() > deadline) {
      signalAll('SIGKILL');
      await new Promise((r) => setTimeout(r, 200));
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
