// The `hostnic watch` rows of the benchmark (issue 13):
//
//   start event -> NIC up      over RESTARTS `docker restart`s of a container under
//                              `hostnic watch`, the physical-return path emulated as
//                              test/e2e/watch-docker.test.ts does (the NIC moved back to
//                              the host before each restart, as the kernel returns a
//                              physical NIC when the namespace dies)
//   idle watch                 RSS and CPU time of the watch process (and, apart, of the
//                              event-stream children it runs) over one minute with
//                              nothing happening
//
// The start: Docker's own timestamp of its `start` event (timeNano, from the
// bench's own GET /events on Docker's socket). The end: the first time the
// bench sees, in the container's namespace, the connected route of the NIC's
// address on eth1 (/proc/PID/net/route of the container's new process): the
// kernel adds that route only once the address is on the link and the link is
// up. /proc/PID/net/* shows the namespace of PID without entering it, so the
// poll is a file read (no process), every POLL_MS; it starts as soon as the
// bench knows the new PID (one GET /containers/NAME/json after the event).
// The poll's resolution is the gap between the reading that saw it up and the
// one before: the report gives its median and maximum. A reading that saw it
// up at the first look (the NIC came before the bench knew the PID) is an
// upper bound and counted apart.
//
// Where the time goes, per restart, from watch's own --json log (ms
// timestamps): Docker's event -> watch's 'container ... start' line (the
// stream's delivery), that line -> 'attached' (the reconcile: lookup, locks,
// reads, the plan), and Docker's die event -> watch's 'restored' (the returned
// NIC's host identity given back, which the start's job may wait for).
//
// Run alone with `node scripts/bench.mjs --only watch`; the full run includes it.
// HOSTNIC_BENCH_WATCH_TRACE=1 runs watch under scripts/bench/preload.cjs (a little slower)
// and adds the child processes run between each start event and its NIC up.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { GW4, IMAGE } from './lab.mjs';
import { inNs, live, must, run } from './proc.mjs';
import { fmt, summarize, table, unionLength } from './stats.mjs';

export const RESTARTS = 20;
/** The idle minute; HOSTNIC_BENCH_WATCH_IDLE_MS shortens it for a quick look at the latency (the reported idle row is then not a minute). */
export const IDLE_MS = Number(process.env.HOSTNIC_BENCH_WATCH_IDLE_MS ?? 60_000);
export const WATCH_TARGETS = { p50Ms: 80, p90Ms: 150, idleRssMiB: 80 };
const NIC = 'wnic1';
const CTR_IF = 'eth1';
const ADDR = '192.168.1.50';
const POLL_MS = 1;
const CLK_TCK = 100; // USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function dockerSocket() {
  const h = process.env.DOCKER_HOST;
  return h?.startsWith('unix://') ? h.slice(7) : '/var/run/docker.sock';
}

/** GET on Docker's socket, the parsed JSON body. */
function dockerGet(path) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: dockerSocket(), path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode} ${body.trim()}`));
        else resolve(JSON.parse(body));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Docker's start and die events of one container, as they come: { action, timeNano, ms } pushed to `events`. */
function followDocker(name, events) {
  const filters = encodeURIComponent(JSON.stringify({ type: ['container'], container: [name], event: ['start', 'die'] }));
  let req;
  const ready = new Promise((resolve, reject) => {
    req = request({ socketPath: dockerSocket(), path: `/events?filters=${filters}`, method: 'GET' }, (res) => {
      let buf = '';
      res.setEncoding('utf8').on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          const doc = JSON.parse(line);
          events.push({ action: doc.Action, id: doc.Actor?.ID, timeNano: BigInt(doc.timeNano), ms: Number(BigInt(doc.timeNano) / 1000n) / 1000, seenAt: now() });
        }
      });
      resolve();
    });
    req.on('error', reject);
    req.end();
  });
  return { ready, close: () => req.destroy() };
}

/** 192.168.1.0/24 on eth1 in /proc/PID/net/route: the address is on the link and the link is up. */
const ROUTE_DEST = '0001A8C0';
const ROUTE_MASK = '00FFFFFF';
function connectedRoute(pid) {
  let text;
  try { text = readFileSync(`/proc/${pid}/net/route`, 'utf8'); } catch { return false; }
  return text.split('\n').some((l) => {
    const f = l.split('\t');
    return f[0] === CTR_IF && f[1] === ROUTE_DEST && f[7] === ROUTE_MASK;
  });
}

/** Poll until the NIC is up with its address in PID's namespace: { at, gap, first, polls }. */
async function pollUp(pid, deadlineMs = 30_000) {
  const start = now();
  let prev = start;
  for (let polls = 1; ; polls++) {
    const t = now();
    if (connectedRoute(pid)) return { at: t, gap: t - prev, first: polls === 1, polls };
    if (t - start > deadlineMs) throw new Error(`${CTR_IF} with ${ADDR} not up in pid ${pid}'s namespace after ${deadlineMs} ms`);
    prev = t;
    await sleep(POLL_MS);
  }
}

/** The NICs of our own: one veth on the cloud bridge, a host address to give back on the way home; the container; the desired file. */
export async function setupWatchLab(lab) {
  const w = { nic: NIC, container: `${lab.container}-w` };
  lab.watch = w;
  await must(['ip', '-n', lab.host, 'link', 'add', 'name', NIC, 'type', 'veth', 'peer', 'name', `p-${NIC}`, 'netns', lab.cloud]);
  await must(['ip', '-n', lab.cloud, 'link', 'set', 'dev', `p-${NIC}`, 'master', 'br0', 'up']);
  await must(['ip', '-n', lab.host, 'addr', 'add', '192.168.1.78/24', 'dev', NIC]);
  await must(['ip', '-n', lab.host, 'link', 'set', 'dev', NIC, 'up']);
  await must(['docker', 'run', '-d', '--name', w.container, '--label', 'hostnic-bench=1', IMAGE, 'sleep', '1000000'], { timeoutMs: 60_000 });
  const dir = join(lab.tmp, 'watch');
  mkdirSync(dir, { mode: 0o700 });
  w.file = join(dir, 'attachments.yaml');
  writeFileSync(w.file, `attachments:\n  - container: docker:${w.container}\n    nic: ${NIC}\n    addresses: [${ADDR}/24@${GW4}]\n`, { mode: 0o600 });
}

export async function destroyWatchLab(lab) {
  if (!lab.watch) return [];
  const r = await run(['docker', 'rm', '-f', lab.watch.container], { timeoutMs: 60_000 });
  return r.code !== 0 && !/no such container/i.test(r.stderr) ? [`docker rm -f ${lab.watch.container}: ${r.stderr.trim()}`] : [];
}

/** `hostnic watch --json` in the lab host; its log lines (parsed, with the bench's receipt time). */
function startWatch(argv, env) {
  const [file, ...args] = argv;
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.set(child.pid, child);
  const lines = [];
  let buf = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (l.startsWith('{')) lines.push({ ...JSON.parse(l), at: now() });
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.once('close', (code, signal) => { live.delete(child.pid); resolve({ code, signal }); }));
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    async until(pred, count = 1, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hits = lines.filter(pred);
        if (hits.length >= count) return hits;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`hostnic watch: ${child.exitCode !== null ? `exited ${child.exitCode}` : 'timed out'} waiting for its log; log:\n${lines.map((l) => l.message).join('\n')}\n${stderr}`);
        }
        await sleep(10);
      }
    },
    async stop() {
      if (child.exitCode === null) { try { process.kill(child.pid, 'SIGTERM'); } catch { /* gone */ } }
      return exited;
    },
  };
}

/** RSS (VmRSS, VmHWM in KiB) and CPU time (utime + stime, ms) of a process. */
function procUsage(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  // stat: "pid (comm) state ppid ...": utime and stime are fields 14 and 15; comm may hold spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / CLK_TCK };
}

/** The event-stream readers watch runs (podman events, ctr events, under setpriv): every descendant of pid. */
function descendants(pid) {
  const kids = [];
  let tasks;
  try { tasks = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return kids; }
  for (const k of tasks) {
    let argv;
    try { argv = readFileSync(`/proc/${k}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' '); } catch { continue; }
    kids.push({ pid: k, argv }, ...descendants(k));
  }
  return kids;
}

/**
 * The rounds: a watch, RESTARTS restarts (the NIC returned to the host first),
 * then one idle minute. `t`: { hostnicArgv(args), hostnicEnv(stateDir), restarts, checkAbort, waitQuiet(label) }
 */
export async function benchWatch(lab, t) {
  const w = lab.watch;
  const stateDir = lab.stateDir('watch');
  const events = [];
  const docker = followDocker(w.container, events);
  await docker.ready;
  // Traced (HOSTNIC_BENCH_WATCH_TRACE=1): watch under scripts/bench/preload.cjs, which records every child process's times.
  const traceFile = t.traced ? join(lab.tmp, 'watch-trace.json') : undefined;
  const watchArgs = ['watch', '--json', '-f', w.file];
  const watch = startWatch(traceFile ? t.tracedArgv(watchArgs) : t.hostnicArgv(watchArgs), t.hostnicEnv(stateDir, traceFile ? { HOSTNIC_BENCH_TRACE: traceFile } : {}));
  const attached = (l) => l.event === 'attached' && l.container === `docker:${w.container}`;
  const samples = [];
  let failures;
  const rss = {};
  let idle;
  try {
    await watch.until(attached);
    await watch.until((l) => l.event === 'runtime-up' && l.runtime === 'docker');
    const pid = watch.child.pid;
    rss.afterStart = procUsage(pid);
    await t.waitQuiet('the watch restarts');
    for (let i = 0; i < t.restarts + 1; i++) {
      const warm = i === 0;
      const old = (await dockerGet(`/containers/${w.container}/json`)).State.Pid;
      // The kernel's move of a physical NIC when its namespace dies, done by hand (a veth would die with it).
      const taken = (await run(['ip', '-n', lab.host, 'link', 'show', 'dev', CTR_IF])).code === 0;
      const index = JSON.parse((await must(inNs(`/proc/${old}/ns/net`, ['ip', '-json', 'link', 'show', 'dev', CTR_IF]))).stdout)[0].ifindex;
      await must(inNs(`/proc/${old}/ns/net`, ['ip', 'link', 'set', 'dev', CTR_IF, 'netns', lab.hostNs, ...(taken ? ['name', `dev${index}`] : [])]));
      const mark = events.length;
      await must(['docker', 'restart', '-t', '0', w.container], { timeoutMs: 60_000 });
      let start;
      while (!(start = events.slice(mark).find((e) => e.action === 'start'))) await sleep(1);
      const die = events.slice(mark).find((e) => e.action === 'die');
      const { State } = await dockerGet(`/containers/${w.container}/json`);
      const up = await pollUp(State.Pid);
      const logs = await watch.until(attached, i + 2);
      const sawStart = watch.lines.filter((l) => l.event === 'container' && l.action === 'start').at(-1);
      const restored = watch.lines.filter((l) => l.event === 'restored').at(-1);
      const logMs = (l) => (l ? Date.parse(l.time) : NaN);
      if (!warm) {
        samples.push({
          ms: up.at - start.ms,
          pollGapMs: up.gap,
          upAtFirstLook: up.first,
          eventDeliveredMs: logMs(sawStart) - start.ms,
          watchSawToAttachedMs: logMs(logs.at(-1)) - logMs(sawStart),
          dieToRestoredMs: die ? logMs(restored) - die.ms : NaN,
          restoredAfterStartMs: logMs(restored) - start.ms,
          benchGotEventMs: start.seenAt - start.ms,
          window: [start.ms, up.at],
        });
      }
      process.stderr.write(`bench: watch ${warm ? 'warm-up restart' : `restart ${i}/${t.restarts}`}: ${fmt(up.at - start.ms)} ms\n`);
      t.checkAbort();
      await sleep(300);
    }
    // A failed plan (rolled back) is reported with the figures, not hidden: the bench moves the NIC while watch may still be busy.
    failures = watch.lines.filter((l) => l.event === 'failed' || l.event === 'error').map((l) => l.message);
    // Idle: nothing happens for a minute; the periodic resync (300 s) is not due.
    rss.afterRestarts = procUsage(pid);
    await t.waitQuiet('the idle minute');
    const kids0 = descendants(pid).map((k) => ({ ...k, ...procUsage(k.pid) }));
    const a = procUsage(pid);
    const linesBefore = watch.lines.length;
    const t0 = now();
    process.stderr.write('bench: watch idle for one minute\n');
    for (let s = 0; s < Math.ceil(IDLE_MS / 1000); s++) {
      await sleep(1000);
      t.checkAbort();
    }
    const b = procUsage(pid);
    const wall = now() - t0;
    const kids = descendants(pid).map((k) => {
      const before = kids0.find((x) => x.pid === k.pid);
      const u = procUsage(k.pid);
      return { argv: k.argv, rssKiB: u.rssKiB, cpuMs: before ? u.cpuMs - before.cpuMs : NaN };
    });
    idle = {
      wallMs: wall,
      rssKiB: b.rssKiB,
      hwmKiB: b.hwmKiB,
      cpuMs: b.cpuMs - a.cpuMs,
      logLines: watch.lines.slice(linesBefore).map((l) => l.message),
      children: kids,
    };
    rss.afterIdle = b;
  } finally {
    docker.close();
    const end = await watch.stop();
    if (end.code !== 0) process.stderr.write(`bench: hostnic watch exited ${end.code ?? end.signal}: ${watch.stderr().trim()}\n`);
  }
  if (traceFile) {
    const trace = JSON.parse(readFileSync(traceFile, 'utf8'));
    childrenIn(samples, trace.spawns);
    timelines(samples, trace, watch.lines);
  }
  // Give the NIC back (untimed): the lab's destroy removes the container, and the veth with it otherwise.
  await t.checked('hostnic detach (after the watch rows)', t.hostnicArgv(['detach', `docker:${w.container}`, NIC]), { env: t.hostnicEnv(stateDir) });
  return { samples, idle, rss, failures };
}

/** Per sample: the child processes watch ran between the start event and the NIC up (stream readers aside), their union time and their time by program. */
function childrenIn(samples, spawns) {
  for (const s of samples) {
    const [a, b] = s.window;
    // Not the event-stream readers (podman events, ctr events under setpriv): they run all along.
    const inside = spawns.filter((x) => x.end > a && x.start < b && !x.argv.includes('events')).map((x) => ({ ...x, start: Math.max(x.start, a), end: Math.min(x.end || b, b) }));
    s.childUnionMs = unionLength(inside);
    s.children = inside.length;
    s.byProgram = {};
    for (const x of inside) {
      const base = (p) => String(p).split('/').pop();
      const i = x.argv.indexOf('--');
      const k = base(x.argv[0]) === 'nsenter' ? `nsenter + ${base(x.argv[i >= 0 ? i + 1 : 2])}` : base(x.argv[0]);
      s.byProgram[k] = (s.byProgram[k] ?? 0) + (x.end - x.start);
    }
  }
}

/**
 * Per sample (traced runs): what watch did from the start event to the NIC up, in order,
 * in ms from the start event: its log lines, each child process (start, end), each fsync,
 * each Docker API connection. In the JSON only: for reading where the time goes.
 */
function timelines(samples, trace, lines) {
  for (const s of samples) {
    const [a, b] = s.window;
    const rel = (t) => Math.round((t - a) * 10) / 10;
    const rows = [
      ...lines.filter((l) => Date.parse(l.time) >= a - 1 && Date.parse(l.time) <= b + 1).map((l) => ({ at: rel(Date.parse(l.time)), log: l.message })),
      ...trace.spawns.filter((x) => x.end > a && x.start < b && !x.argv.includes('events')).map((x) => ({ at: rel(x.start), end: rel(x.end), argv: x.argv.join(' ') })),
      ...(trace.fsync.at ?? []).filter(([t]) => t > a && t < b).map(([t, e]) => ({ at: rel(t), end: rel(e), fsync: true })),
      ...trace.http.filter((x) => x.end > a && x.start < b).map((x) => ({ at: rel(x.start), end: rel(x.end), http: x.path })),
    ];
    s.timeline = rows.sort((x, y) => x.at - y.at);
  }
}

export function watchReport({ samples, idle, rss, failures = [] }) {
  const col = (k) => samples.map((s) => s[k]).filter(Number.isFinite);
  const lat = summarize(col('ms'));
  const stat = (k) => summarize(col(k));
  const mib = (kib) => kib / 1024;
  const targets = [
    { target: 'start event -> NIC up, p50', value: lat.median, unit: 'ms', limit: WATCH_TARGETS.p50Ms },
    { target: 'start event -> NIC up, p90', value: lat.p90, unit: 'ms', limit: WATCH_TARGETS.p90Ms },
    { target: 'idle watch RSS', value: idle ? mib(idle.rssKiB) : NaN, unit: 'MiB', limit: WATCH_TARGETS.idleRssMiB },
  ].map((x) => ({ ...x, pass: x.value <= x.limit }));
  const where = [
    ['start event -> NIC up (the row)', 'ms'],
    ['Docker start event -> watch logs it (stream delivery)', 'eventDeliveredMs'],
    ['watch logs the start -> watch logs attached', 'watchSawToAttachedMs'],
    ['Docker die event -> watch logs restored', 'dieToRestoredMs'],
    ['Docker start event -> watch logs restored (negative: before the start)', 'restoredAfterStartMs'],
    ['Docker start event -> the bench gets it', 'benchGotEventMs'],
    ['poll gap at the reading that saw it up', 'pollGapMs'],
    ['(traced) child processes running, union', 'childUnionMs'],
    ['(traced) child processes started', 'children'],
  ].map(([label, k]) => { const s = stat(k); return [label, String(s.n), fmt(s.median), fmt(s.p90), fmt(s.min), fmt(s.max)]; });
  const firstLook = samples.filter((s) => s.upAtFirstLook).length;
  const programs = [...new Set(samples.flatMap((s) => Object.keys(s.byProgram ?? {})))];
  const byProgram = programs.map((k) => { const v = summarize(samples.map((s) => s.byProgram?.[k] ?? 0)); return [k, fmt(v.median), fmt(v.p90)]; });
  const text = [
    '',
    `hostnic watch: ${samples.length} docker restarts (the NIC returned to the host before each, as a physical NIC is)`,
    table(['', 'n', 'median ms', 'p90 ms', 'min ms', 'max ms'], where, [1, 2, 3, 4, 5]),
    `readings up at the first look (NIC up before the bench knew the new PID; an upper bound): ${firstLook}`,
    `watch logged ${failures.length} failure(s)${failures.length ? `: ${failures.join('; ')}` : ''}`,
    ...(programs.length ? ['', '(traced) child process time between the start event and the NIC up, by program (sum, not union):', table(['program', 'median ms', 'p90 ms'], byProgram, [1, 2])] : []),
    '',
    idle ? `idle watch over ${fmt(idle.wallMs / 1000)} s: RSS ${fmt(mib(idle.rssKiB))} MiB (peak ${fmt(mib(idle.hwmKiB))} MiB; after start ${fmt(mib(rss.afterStart.rssKiB))}, after the restarts ${fmt(mib(rss.afterRestarts.rssKiB))}), CPU ${fmt(idle.cpuMs, 0)} ms (${fmt((100 * idle.cpuMs) / idle.wallMs, 3)}%), ${idle.logLines.length} log lines` : 'idle watch: not measured',
    ...(idle?.children ?? []).map((c) => `  stream child: ${c.argv}: RSS ${fmt(mib(c.rssKiB))} MiB, CPU ${fmt(c.cpuMs, 0)} ms`),
    '',
    table(['target', 'value', 'limit', ''], targets.map((x) => [x.target, `${fmt(x.value)} ${x.unit}`, `<= ${x.limit} ${x.unit}`, x.pass ? 'PASS' : 'MISS']), [1, 2]),
    '',
  ].join('\n');
  return { stats: { latency: lat, where: Object.fromEntries(where.map((r) => [r[0], r.slice(1)])) }, targets, text };
}
