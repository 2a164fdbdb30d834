/**
 * hostnic watch [-f FILE] [--resync SECONDS]: keep the desired file applied
 * as containers start, stop and restart (src/watch/daemon.ts). One per state
 * directory; it first finishes what a dead hostnic left (what `hostnic
 * recover` runs), then resyncs, then follows the runtimes' events until
 * SIGTERM or SIGINT.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { recoverAll } from '../cli/recover.js';
import type { Ctx } from '../cli/context.js';
import { defaultDesiredPath } from '../desired/file.js';
import { EXIT, UsageError } from '../errors.js';
import { Locks, WATCH_KEY } from '../runner/locks.js';
import { makeLogger } from '../watch/log.js';
import { Watcher } from '../watch/daemon.js';
import { startDhcpKeeper } from '../dhcp/keeper.js';

export interface WatchArgs {
  file?: string;
  resync?: number;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];

export async function watchCommand(args: WatchArgs, ctx: Ctx): Promise<number> {
  if (ctx.dryRun) throw new UsageError('watch has no --dry-run: use hostnic apply --dry-run to see what it would do');
  const resyncSeconds = args.resync ?? 300;
  if (!Number.isFinite(resyncSeconds) || resyncSeconds < 0) throw new UsageError(`--resync ${String(args.resync)}: give a number of seconds (0: never)`);
  const file = args.file ?? defaultDesiredPath();
  const log = makeLogger(ctx.json);
  // Never a task list or a spinner: this runs under systemd.
  const quiet: Ctx = { ...ctx, renderer: 'silent', say: (line) => log('started', line) };

  // One watch per state directory: two would race for every container.
  const pidFile = join(ctx.state.root, 'watch.pid');
  if (!await ctx.locks.tryTake(WATCH_KEY)) {
    let pid = '?';
    try { pid = readFileSync(pidFile, 'utf8').trim(); } catch { /* it is starting */ }
    throw new UsageError(`another hostnic watch is running (pid ${pid}) on ${ctx.state.root}`, `stop it first (systemctl stop hostnic, or kill ${pid})`);
  }
  ctx.state.writeJson(pidFile, process.pid);

  const watcher = new Watcher(quiet, { file, resyncSeconds, log });
  // Signals: stop following, let the plan in progress finish or roll back (the runner does), then exit 0.
  let stopped: Promise<void> | undefined;
  let asked!: () => void;
  const stopAsked = new Promise<void>((resolve) => { asked = resolve; });
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopped) return;
    log('stopping', `${sig}: stopping (a plan in progress finishes or rolls back first)`, { signal: sig });
    stopped = watcher.shutdown();
    asked();
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  // Concurrent plans each listen for the signals while they run.
  process.setMaxListeners(0);
  try {
    const first = watcher.load(); // a bad file at start: exit 2, before anything changes
    // With locks of its own: recoverAll lets go of every lock it took, and the instance lock must stay.
    const rec = await recoverAll({ state: ctx.state, renderer: 'silent', locks: new Locks(ctx.state) }, {
      bad: (b) => log('recover-failed', `cannot read ${b.file}: ${b.error} (move it aside)`, { file: b.file }),
      orphan: (line) => log('dhcp-stopped', line, {}),
      busy: (j, why) => log('waiting', `not recovered now: ${j.title} (plan ${j.id}): ${why}`, { id: j.id }),
      each: (r) => log(r.ok ? 'recovered' : 'recover-failed', `${r.action}: ${r.title} (left by pid ${r.pid})${r.ok ? '' : `: ${r.outcome.error?.message ?? `exit ${r.outcome.exitCode}`}`}`, { id: r.id, action: r.action, ok: r.ok }),
    });
    if (rec.exitCode !== EXIT.ok) log('recover-failed', 'some unfinished plans could not be finished: their NICs stay blocked until hostnic recover succeeds', {});
    const every = resyncSeconds > 0 ? `resync every ${resyncSeconds} s` : 'no periodic resync';
    log('started', `watching ${file} (pid ${process.pid}, ${every})`, { file, pid: process.pid, resyncSeconds });
    if (!stopped) await watcher.start(first);
    // DHCP clients: restarted when they died while their container lives, stopped when they outlive it (src/dhcp/keeper.ts).
    const keeper = stopped ? undefined : startDhcpKeeper(ctx.state, log);
    await stopAsked;
    await keeper?.stop();
    await stopped;
    log('stopped', 'stopped', {});
    return EXIT.ok;
  } finally {
    for (const s of SIGNALS) process.off(s, onSignal);
    ctx.state.remove(pidFile);
    ctx.locks.release();
  }
}
