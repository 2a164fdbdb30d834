#!/usr/bin/env node
// npm run bench [-- --runs N] [-- --before REV ...] [-- --profile] [-- --only cni]
//
// Side-by-side benchmark of hostnic attach/detach (issue 7), measure only.
// On a throwaway lab (scripts/bench/lab.mjs) with a real Docker container, it
// runs the contenders round-robin (each round rotates the order, so machine
// noise hits all of them alike) and reports median and p90 of every timing:
//
//   node -e 0                  the start-up no Node program avoids
//   hostnic --version          our start-up (bin/hostnic requires the bundle; yargs)
//   hostnic attach / detach    by container name, 192.168.1.40/24@192.168.1.1
//   ... by docker:NAME         the same without the bare-name lookup in every runtime
//   ... @16 / @64              with 16 / 64 other attachments recorded in the state dir
//   CNI host-device ADD / DEL  the closest peer, static IPAM, given /proc/PID/ns/net
//   hostnic CNI VERSION, ADD / DEL, and the CLI's attach / detach by the same
//                              netns path, plus traced ADD / DEL (scripts/bench/cni.mjs)
//   floor                      a bash script: the minimal ip/nsenter commands (ip -batch)
//   floor, 1 process/command   the same change with one ip process per command
//   guarded floor              the floor plus what hostnic cannot skip: the lock, a read of both
//                              namespaces, the announcement sysctls (the least any safe tool adds)
//
// plus the peak RSS of one attach, then the targets of the issue with
// PASS/MISS. Everything also goes to bench-results/bench-<timestamp>.json.
//
// --before REV (repeatable) adds the code of a git revision as contenders
// in the same rounds: its hostnic --version and attach/detach by name, built
// once with its own build script in the lab's temp dir
// (scripts/bench/revision.mjs). The report then gives both medians and the
// difference for --version, attach and detach, against issue 11's start-up
// budget (now at most 20 ms over before). E.g. --before 44012bb (main before
// issue 11: yargs patched at build time, a V8 code cache of the bundle).
//
// --only cni runs only node -e 0 and the CNI rows (scripts/bench/cni.mjs):
// hostnic's ADD+DEL against host-device's and the CLI's attach+detach, and
// where the time of an ADD and a DEL goes.
//
// --only watch runs only the hostnic watch rows (scripts/bench/watch.mjs): from
// Docker's start event to the NIC up with its address in the container over 20
// restarts under watch, and an idle watch's RSS and CPU time over one minute.
//
// --profile runs one attach + detach with --verbose and a tracing preload
// (scripts/bench/preload.cjs) and shows where the time goes; it also times
// the building blocks (a process, nsenter, ip, ip -batch, sysctl, hostnic --version,
// the Docker API GET, podman).
//
// Every program is run from an argument array (no shell); the floor scripts
// are the one bash artifact. Ctrl+C stops the run, lets a running hostnic
// roll back, and removes the lab.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, spawnSync } from 'node:child_process';
import { ADDR, GW4, Lab, NIC } from './bench/lab.mjs';
import { drain, inNs, live, must, run, signalAll } from './bench/proc.mjs';
import { CNI_DIR, cniContenders, cniReport } from './bench/cni.mjs';
import { buildRevision, checkRuns, plainEnv } from './bench/revision.mjs';
import { applyReport, benchApply, destroyApplyLab, N as APPLY_N, setupApplyLab } from './bench/apply.mjs';
import { fmt, summarize, table, unionLength } from './bench/stats.mjs';
import { benchWatch, destroyWatchLab, RESTARTS as WATCH_RESTARTS, setupWatchLab, watchReport } from './bench/watch.mjs';

const REPO = fileURLToPath(new URL('..', import.meta.url));
/** The CLI under test: a private copy of bin/ + dist/ (snapshotBuild), so a concurrent rebuild cannot change it mid-run. */
let CLI = join(REPO, 'bin', 'hostnic');
const PRELOAD = join(REPO, 'scripts', 'bench', 'preload.cjs');
const NODE = process.execPath;
const CTR_IF = 'eth1'; // hostnic picks the first free ethN: the container has eth0 from Docker
const MIB = 1024 * 1024;
/** The address argument of every attach: address/prefix@gateway. */
const ADDR_GW = `${ADDR}@${GW4}`;

/** Issue 11: hostnic --version and an attach may each cost at most this much more than before it. */
const STARTUP_BUDGET_MS = 20;

const TARGETS = {
  attachOverNode: 40, // ms over node -e 0
  detachOverNode: 40,
  cycleOverFloor: 2.5,
  scale64: 1.1,
  peakRssMiB: 80,
};

// ------------------------------------------------------------------ options

function usage() {
  return `usage: node scripts/bench.mjs [--runs N] [--before REV]... [--profile] [--only apply|cni|watch] [--out DIR]
  --runs N     measured rounds (default 15, at least 7); one warm-up round comes first
  --before REV also run the code of git revision REV (built in the lab) in the same rounds,
               and print its --version/attach/detach medians beside the current build's (repeatable)
  --profile    one traced attach + detach (--verbose) and the cost of each building block
  --only cni   only node -e 0 and the CNI rows: hostnic's ADD+DEL against host-device's and
               the CLI's attach+detach of the same NIC, and where the time goes
  --out DIR    where the JSON goes (default bench-results/)
  --no-wait    do not wait for other test runs (vitest) on this machine to finish before each round
  --only apply only the hostnic apply rows (16 entries into 16 containers vs 16 floor attaches; in place vs node -e 0)
  --only watch only the hostnic watch rows (start event -> NIC up over ${WATCH_RESTARTS} restarts, or --runs N if more; idle RSS and CPU over a minute)`;
}

function parseArgs(argv) {
  const o = { runs: 15, profile: false, out: join(REPO, 'bench-results'), wait: true, before: [], only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--runs') o.runs = Number(argv[++i]);
    else if (a.startsWith('--runs=')) o.runs = Number(a.slice(7));
    else if (a === '--profile') o.profile = true;
    else if (a === '--before') o.before.push(argv[++i]);
    else if (a.startsWith('--before=')) o.before.push(a.slice(9));
    else if (a === '--only') o.only = argv[++i];
    else if (a.startsWith('--only=')) o.only = a.slice(7);
    else if (a === '--no-wait') o.wait = false;
    else if (a === '--out') o.out = argv[++i];
    else if (a.startsWith('--out=')) o.out = a.slice(6);
    else if (a === '-h' || a === '--help') { console.log(usage()); process.exit(0); }
    else { console.error(`bench: unknown argument ${a}\n${usage()}`); process.exit(2); }
  }
  if (!Number.isInteger(o.runs) || o.runs < 7) { console.error('bench: --runs must be an integer >= 7'); process.exit(2); }
  if (o.before.some((r) => !r)) { console.error(`bench: --before needs a git revision\n${usage()}`); process.exit(2); }
  if (o.only !== null && !['apply', 'cni', 'watch'].includes(o.only)) { console.error(`bench: --only takes one group: apply, cni or watch\n${usage()}`); process.exit(2); }
  if (o.before.length && o.profile) { console.error('bench: --before is for the timing run, not --profile'); process.exit(2); }
  if (o.only && (o.profile || o.before.length)) { console.error(`bench: --only ${o.only} is a timing run of its own: no --profile or --before`); process.exit(2); }
  return o;
}

// ------------------------------------------------------------------ interruption

class Aborted extends Error {}
let aborted = null;
function onSignal(sig) {
  if (aborted) {
    process.stderr.write(`bench: ${sig} again: killing children\n`);
    signalAll('SIGKILL');
    return;
  }
  aborted = sig;
  process.stderr.write(`\nbench: ${sig}: stopping; a running hostnic rolls back, then the lab is removed\n`);
  signalAll('SIGINT');
}
function checkAbort() {
  if (aborted) throw new Aborted(`interrupted by ${aborted}`);
}

// ------------------------------------------------------------------ contenders

function hostnicEnv(stateDir, extra = {}) {
  const env = { ...process.env, HOSTNIC_STATE_DIR: stateDir, NO_COLOR: '1', ...extra };
  for (const k of Object.keys(env)) if (k.startsWith('HOSTNIC_TEST_') || k === 'FORCE_COLOR' || k === 'HOSTNIC_DEBUG') delete env[k];
  return env;
}

async function checked(what, argv, opts) {
  const r = await run(argv, opts);
  checkAbort();
  if (r.code !== 0) {
    const text = r.stderr || r.stdout;
    throw new Error(`${what} failed (exit ${r.code ?? r.signal}):\n${text.trim().split('\n').slice(-15).join('\n')}`);
  }
  return r;
}

/**
 * Copy bin/hostnic and dist/ into the lab's temp dir and run that copy: the
 * bundle has no runtime dependency outside node's builtins, and a build
 * elsewhere on the machine (`npm test`) swaps in a new dist/ at any moment.
 * --profile builds its own copy instead, unminified with esbuild's section
 * comments (bundle.mjs --readable), so the CPU profile is charged per module.
 */
function snapshotBuild(lab, opts) {
  const app = join(lab.tmp, 'app');
  if (opts.profile) {
    const r = spawnSync(NODE, [join(REPO, 'scripts', 'bundle.mjs'), '--readable', app], { env: plainEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bundle.mjs --readable failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`);
  } else {
    cpSync(join(REPO, 'dist'), join(app, 'dist'), { recursive: true });
    cpSync(join(REPO, 'bin'), join(app, 'bin'), { recursive: true });
    // Node 20: the build's code cache names the bundle's path, so the copy gets
    // its own, made the way the build makes it (bin/node20-cache.cjs), as an
    // installed build in place would have.
    const bundle = join(app, 'dist', 'hostnic.js');
    if (existsSync(`${bundle}.cache`)) {
      const r = spawnSync(NODE, ['-e', 'require(process.argv[1]).make(process.argv[2], process.argv[3])', join(app, 'bin', 'node20-cache.cjs'), bundle, `${bundle}.cache`],
        { env: plainEnv(), stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`making the code cache of the copy failed: ${r.stderr.trim()}`);
    }
  }
  const hash = createHash('sha256');
  for (const f of readdirSync(join(app, 'dist')).sort()) hash.update(f).update(readFileSync(join(app, 'dist', f)));
  CLI = join(app, 'bin', 'hostnic');
  checkRuns(CLI, 'the current build');
  return hash.digest('hex').slice(0, 12);
}

/** PIDs of test runners (vitest) on this machine: they load the cores and make the timings noisy. */
function otherTestRuns() {
  const pids = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      // A node process running vitest: not a `flock LOCK npx vitest` still waiting for its turn.
      if (/(^|\/)node$/.test(argv[0] ?? '') && argv.some((a) => /(^|\/)vitest(\.m?js)?$/.test(a))) pids.push(Number(e));
    } catch { /* gone */ }
  }
  return pids;
}

/** Time spent waiting; rounds that ended with another test run going on (their numbers are noisier). */
const quiet = { waitedMs: 0, noisyRounds: [] };
/** Before a round: wait (10 min at most over the whole run) until no test run is going on. */
async function waitQuiet(opts, label) {
  if (!opts.wait) return;
  let said = false;
  const started = Date.now();
  while (otherTestRuns().length > 0 && quiet.waitedMs + (Date.now() - started) < 600_000) {
    if (!said) process.stderr.write(`bench: waiting for other test runs to finish before ${label} (pids ${otherTestRuns().join(' ')}; --no-wait skips this)\n`);
    said = true;
    await new Promise((r) => setTimeout(r, 1000));
    checkAbort();
  }
  quiet.waitedMs += Date.now() - started;
}

function hostnicArgv(lab, args, nodeFlags = [], cli = CLI) {
  return inNs(lab.hostNs, [NODE, ...nodeFlags, cli, ...args]);
}

/** hostnic's arguments for the lab's attach and detach; the target spelled as given. */
const attachArgs = (target) => ['attach', target, NIC, ADDR_GW];
const detachArgs = (target) => ['detach', target, NIC];

/** One hostnic attach then detach in a state dir; `cli`: another build's bin/hostnic (--before). */
async function hostnicCycle(lab, stateDir, target, cli = CLI) {
  const env = hostnicEnv(stateDir);
  const a = await checked(`hostnic attach ${target}`, hostnicArgv(lab, attachArgs(target), [], cli), { env });
  const d = await checked(`hostnic detach ${target}`, hostnicArgv(lab, detachArgs(target), [], cli), { env });
  return { attach: a.ms, detach: d.ms, cycle: a.ms + d.ms };
}

/**
 * The floor: the same change (move, rename, address, up, default route; and
 * back, restoring the container's own default route) with the fewest
 * processes: host-side `ip` plus one `nsenter ip -batch` per direction.
 * `naive`: the same commands, one process each, the way a step-per-command tool runs.
 * `guarded`: the floor plus what a tool with hostnic's guarantees must add.
 */
function writeFloorScripts(lab) {
  const ns = lab.ctrNs;
  const restore = lab.ctrDefault
    ? `route replace default via ${lab.ctrDefault.gateway} dev ${lab.ctrDefault.dev}`
    : 'route del default';
  // The `ip` commands of the change, each list written once: in the host and in the container.
  const hostIn = [`link set dev ${NIC} netns ${ns}`];
  const ctrIn = [
    `link set dev ${NIC} name ${CTR_IF}`,
    `addr add ${ADDR} dev ${CTR_IF}`,
    `link set dev ${CTR_IF} up`,
    `route replace default via ${GW4} dev ${CTR_IF}`,
  ];
  const ctrGiveBack = [`link set dev ${CTR_IF} down`, `link set dev ${CTR_IF} name ${NIC}`, `link set dev ${NIC} netns ${lab.host}`];
  const ctrOut = [restore, ...ctrGiveBack];
  const hostOut = [`link set dev ${NIC} up`];
  const HOST_IP = 'ip';
  const CTR_IP = `nsenter --net=${ns} ip`;
  /** One `ip -batch` process for the list, or one `ip` process per command. */
  const batch = (ip, cmds) => `${ip} -batch - <<'EOF'\n${cmds.join('\n')}\nEOF\n`;
  const each = (ip, cmds) => cmds.map((c) => `${ip} ${c}\n`).join('');

  const head = '#!/bin/bash\n# hostnic bench floor (generated by scripts/bench.mjs), run in the lab host namespace\nset -e\n';
  const READ = (ip) => `printf 'link show\\naddr show\\nroute show table all\\n' | ${ip} -d -json -batch - >/dev/null`;
  const lock = join(lab.tmp, 'guarded.lock');
  const locked = `exec 9>>${lock}\nflock --exclusive 9\n`;
  const scripts = {
    'floor-attach.sh': each(HOST_IP, hostIn) + batch(CTR_IP, ctrIn),
    'floor-detach.sh': batch(CTR_IP, ctrOut) + each(HOST_IP, hostOut),
    // What any tool with hostnic's guarantees must add to the floor: the
    // lock, a read of both namespaces (to plan and to check), and the
    // announcement sysctls (set in the container, after the move that resets
    // them); like hostnic, it also takes the NIC down before the move and
    // removes the address it added before giving the NIC back.
    'guarded-attach.sh': `${locked}${READ(HOST_IP)} &\n${READ(CTR_IP)} &\nwait\n`
      + batch(HOST_IP, [`link set dev ${NIC} down`, ...hostIn])
      + `nsenter --net=${ns} sysctl -q -w net/ipv4/conf/${NIC}/arp_notify=1 net/ipv6/conf/${NIC}/ndisc_notify=1\n`
      + batch(CTR_IP, ctrIn),
    'guarded-detach.sh': `${locked}${READ(CTR_IP)}\n`
      + batch(CTR_IP, [restore, `addr del ${ADDR} dev ${CTR_IF}`, ...ctrGiveBack])
      + each(HOST_IP, hostOut),
    'naive-attach.sh': each(HOST_IP, hostIn) + each(CTR_IP, ctrIn),
    'naive-detach.sh': each(CTR_IP, ctrOut) + each(HOST_IP, hostOut),
  };
  const paths = {};
  for (const [name, text] of Object.entries(scripts)) {
    paths[name] = join(lab.tmp, name);
    writeFileSync(paths[name], head + text, { mode: 0o755 });
  }
  return paths;
}

async function scriptCycle(lab, attachScript, detachScript, what) {
  const a = await checked(`${what} attach`, inNs(lab.hostNs, ['bash', attachScript]));
  const d = await checked(`${what} detach`, inNs(lab.hostNs, ['bash', detachScript]));
  return { attach: a.ms, detach: d.ms, cycle: a.ms + d.ms };
}

/** Fake-but-valid attachment records, copied from a real one: other NICs, other (gone) containers. */
function writeFakeRecords(real, n, stateDir) {
  mkdirSync(join(stateDir, 'attachments'), { recursive: true, mode: 0o700 });
  mkdirSync(join(stateDir, 'journal'), { recursive: true, mode: 0o700 });
  const hex2 = (x) => (x & 255).toString(16).padStart(2, '0');
  for (let i = 0; i < n; i++) {
    const id = randomBytes(4).toString('hex');
    const rec = structuredClone(real);
    const inp = rec.input;
    const name = `bnic${i}`;
    const mac = `02:be:00:00:${hex2(i >> 8)}:${hex2(i)}`;
    const ctr = `hnbench-fake-${i}`;
    rec.id = id;
    rec.createdAt = new Date().toISOString();
    inp.tag = String(inp.tag ?? '').replace(real.id, id).replace(`n=${inp.host.name}`, `n=${name}`).replace(inp.host.mac, mac);
    inp.id = id;
    inp.tmpNs = `hostnic-${id}`;
    inp.host = { ...inp.host, name, mac, ifindex: 1000 + i };
    inp.request = { ...inp.request, nic: { kind: 'name', name }, target: { kind: 'name', name: ctr } };
    const pid = 4_000_000 + i; // no such process: a container that is gone
    inp.target = {
      display: `docker:${ctr}`, kind: 'docker', nsPath: `/proc/${pid}/ns/net`, nsId: `0:${9_000_000_000 + i}`, pid,
      runtime: { name: 'docker', id: randomBytes(32).toString('hex'), containerName: ctr },
    };
    writeFileSync(join(stateDir, 'attachments', `${id}.json`), `${JSON.stringify(rec, null, 2)}\n`, { mode: 0o600 });
  }
}

/** Peak RSS (bytes) of one attach: GNU time's %M when installed, else VmHWM polled from /proc. */
async function peakRss(lab, stateDir) {
  const env = hostnicEnv(stateDir);
  const args = attachArgs(lab.container);
  let bytes;
  let how;
  if (existsSync('/usr/bin/time')) {
    how = '/usr/bin/time -f %M';
    const r = await checked('hostnic attach (under /usr/bin/time)',
      inNs(lab.hostNs, ['/usr/bin/time', '-f', 'bench-maxrss-kib=%M', NODE, CLI, ...args]), { env });
    const m = /bench-maxrss-kib=(\d+)/.exec(r.stderr);
    if (!m) throw new Error(`no %M in /usr/bin/time output: ${r.stderr}`);
    bytes = Number(m[1]) * 1024;
  } else {
    how = 'VmHWM polled from /proc/PID/status';
    // nsenter (no --fork) execs node: the pid is node's.
    const argv = inNs(lab.hostNs, [NODE, CLI, ...args]);
    const child = spawn(argv[0], argv.slice(1), { env, stdio: 'ignore', detached: true });
    live.set(child.pid, child);
    let hwm = 0;
    let done = false;
    const exited = new Promise((r) => child.once('exit', (code) => { done = true; live.delete(child.pid); r(code); }));
    while (!done) {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
      } catch { /* exited */ }
      await new Promise((r) => setTimeout(r, 2));
    }
    if ((await exited) !== 0) throw new Error('hostnic attach failed while measuring memory');
    bytes = hwm;
  }
  await checked('hostnic detach', hostnicArgv(lab, detachArgs(lab.container)), { env });
  return { bytes, how };
}

// ------------------------------------------------------------------ the benchmark

function gitHead() {
  const r = spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' });
  const dirty = spawnSync('git', ['-C', REPO, 'status', '--porcelain', '--', 'src'], { encoding: 'utf8' });
  return r.status === 0 ? `${r.stdout.trim()}${dirty.stdout?.trim() ? ' (src/ modified)' : ''}` : 'unknown';
}

function onPath(program) {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, program)));
}

function fsType(path) {
  const r = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', '--target', path], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : 'unknown';
}

function meta(lab) {
  return {
    date: new Date().toISOString(),
    git: gitHead(),
    node: process.version,
    kernel: release(),
    cpus: cpus().length,
    loadavg: loadavg().map((x) => Number(x.toFixed(2))),
    stateDirFs: fsType('/run'),
    podmanOnPath: onPath('podman'),
    container: lab.container,
    containerIf: CTR_IF,
  };
}

/** The sample keys of a --before build: the current build's, with this suffix. */
const beforeSuffix = (b) => ` (before ${b.short})`;

/** The contenders of the full run besides node -e 0 and the CNI rows (seeds the state dirs of the scale runs), and the memory runs' state dir. */
async function allContenders(lab, befores, addCycle, add) {
  const dirs = {
    seed: lab.stateDir('seed'),
    name: lab.stateDir('s0-name'),
    docker: lab.stateDir('s0-docker'),
    s16: lab.stateDir('s16'),
    s64: lab.stateDir('s64'),
    mem: lab.stateDir('mem'),
    ...Object.fromEntries(befores.map((b) => [b.short, lab.stateDir(`before-${b.short}`)])),
  };
  const scripts = writeFloorScripts(lab);

  // A real record to copy for the scale runs.
  process.stderr.write('bench: seeding a real attachment record\n');
  const env = hostnicEnv(dirs.seed);
  await checked('hostnic attach (seed)', hostnicArgv(lab, attachArgs(lab.container)), { env });
  const recFiles = readdirSync(join(dirs.seed, 'attachments')).filter((f) => f.endsWith('.json'));
  if (recFiles.length !== 1) throw new Error(`expected one record after the seed attach, found ${recFiles.length}`);
  const real = JSON.parse(readFileSync(join(dirs.seed, 'attachments', recFiles[0]), 'utf8'));
  await checked('hostnic detach (seed)', hostnicArgv(lab, detachArgs(lab.container)), { env });
  await lab.assertReset('the seed attach + detach');
  writeFakeRecords(real, 16, dirs.s16);
  writeFakeRecords(real, 64, dirs.s64);

  const contenders = [
    { name: 'hostnic --version', run: async () => add('hostnic --version', (await checked('hostnic --version', hostnicArgv(lab, ['--version']))).ms) },
    { name: 'hostnic (name)', run: async () => addCycle('hostnic', await hostnicCycle(lab, dirs.name, lab.container)), reset: true },
    { name: 'hostnic (docker:NAME)', run: async () => addCycle('hostnic', await hostnicCycle(lab, dirs.docker, `docker:${lab.container}`), ' (docker:NAME)'), reset: true },
    { name: 'hostnic @16', run: async () => addCycle('hostnic', await hostnicCycle(lab, dirs.s16, lab.container), ' @16'), reset: true },
    { name: 'hostnic @64', run: async () => addCycle('hostnic', await hostnicCycle(lab, dirs.s64, lab.container), ' @64'), reset: true },
    { name: 'floor', run: async () => addCycle('floor', await scriptCycle(lab, scripts['floor-attach.sh'], scripts['floor-detach.sh'], 'floor')), reset: true },
    { name: 'guarded floor', run: async () => addCycle('guarded floor', await scriptCycle(lab, scripts['guarded-attach.sh'], scripts['guarded-detach.sh'], 'guarded floor')), reset: true },
    { name: 'floor, 1 process/command', run: async () => addCycle('floor, 1 process/command', await scriptCycle(lab, scripts['naive-attach.sh'], scripts['naive-detach.sh'], 'naive floor')), reset: true },
    ...befores.flatMap((b) => [
      { name: `hostnic --version${beforeSuffix(b)}`, run: async () => add(`hostnic --version${beforeSuffix(b)}`, (await checked(`hostnic --version${beforeSuffix(b)}`, hostnicArgv(lab, ['--version'], [], b.cli))).ms) },
      { name: `hostnic${beforeSuffix(b)}`, run: async () => addCycle('hostnic', await hostnicCycle(lab, dirs[b.short], lab.container, b.cli), beforeSuffix(b)), reset: true },
    ]),
  ];
  return { contenders, memDir: dirs.mem };
}

async function benchmark(lab, opts, befores) {
  const only = opts.only === 'cni';
  const samples = {};
  const add = (key, ms) => { (samples[key] ??= []).push(ms); };
  const addCycle = (prefix, r, suffix = '', [on, off] = ['attach', 'detach']) => {
    add(`${prefix} ${on}${suffix}`, r.attach);
    add(`${prefix} ${off}${suffix}`, r.detach);
    add(`${prefix} cycle${suffix}`, r.cycle);
  };
  const cni = cniContenders(lab, { checked, hostnicEnv, hostnicArgv, node: NODE, cli: () => CLI, preload: PRELOAD, add },
    { cni: lab.stateDir('cni'), cniTraced: lab.stateDir('cni-traced'), cli: lab.stateDir('cli-netns-path') });
  const node0 = { name: 'node -e 0', run: async () => add('node -e 0', (await checked('node -e 0', inNs(lab.hostNs, [NODE, '-e', '0']))).ms) };
  const all = only ? undefined : await allContenders(lab, befores, addCycle, add);
  const contenders = [node0, ...(all?.contenders ?? []), ...cni.contenders];

  const total = opts.runs + 1;
  for (let round = 0; round < total; round++) {
    const warm = round === 0;
    await waitQuiet(opts, warm ? 'the warm-up round' : `round ${round}`);
    process.stderr.write(`bench: ${warm ? 'warm-up round' : `round ${round}/${opts.runs}`}\n`);
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(k + round) % contenders.length];
      await c.run();
      checkAbort();
      if (c.reset) await lab.assertReset(c.name);
    }
    if (!warm && otherTestRuns().length > 0) quiet.noisyRounds.push(round);
    if (warm) for (const bag of [samples, cni.traced]) for (const key of Object.keys(bag)) delete bag[key];
  }
  if (!all) return { samples, traced: cni.traced };

  process.stderr.write('bench: peak memory of one attach (3 runs)\n');
  const mem = [];
  let memHow = '';
  for (let i = 0; i < 3; i++) {
    const m = await peakRss(lab, all.memDir);
    mem.push(m.bytes);
    memHow = m.how;
    checkAbort();
  }
  await lab.assertReset('the memory runs');
  return { samples, traced: cni.traced, memory: { bytes: mem, maxBytes: Math.max(...mem), how: memHow } };
}

/** Table order: hostnic variants, then the CNI plugin, then the floors; within each, attach, detach, cycle. */
function rank(key) {
  const group = ['hostnic CLI', 'hostnic CNI', 'hostnic', 'CNI', 'floor, 1', 'guarded floor', 'floor'].findIndex((g) => key.startsWith(g));
  const order = [2, 0, 1, 3, 4, 5, 6][group] ?? 9; // the CLI by name, by netns path, the CNI plugin, host-device, floors
  const variant = [' @16', ' @64', '(docker:NAME)', '(before '].findIndex((v) => key.includes(v)) + 1;
  const phase = ['attach', 'ADD', 'detach', 'DEL', 'cycle'].findIndex((p) => key.includes(` ${p}`));
  return order * 1000 + variant * 10 + phase;
}

function report(result, lab) {
  const stats = Object.fromEntries(Object.entries(result.samples).map(([k, v]) => [k, summarize(v)]));
  const med = (k) => stats[k]?.median ?? NaN;
  const node0 = med('node -e 0');
  const befores = result.config.before;
  const order = ['node -e 0', 'hostnic --version', ...befores.map((b) => `hostnic --version${beforeSuffix(b)}`), 'hostnic CNI VERSION'];
  const keys = [...order.filter((k) => k in stats), ...Object.keys(stats).filter((k) => !order.includes(k)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))];
  const rows = keys.map((k) => [k, stats[k]]).map(([k, s]) => [k, String(s.n), fmt(s.median), fmt(s.p90), fmt(s.min), fmt(s.median - node0)]);
  const timing = table(['contender', 'n', 'median ms', 'p90 ms', 'min ms', '- node -e 0'], rows, [1, 2, 3, 4, 5]);
  const cni = cniReport(stats, result.traced);
  const head = [
    '',
    `hostnic bench: ${result.meta.date}, git ${result.meta.git}, node ${result.meta.node}, kernel ${result.meta.kernel}, ${result.meta.cpus} CPUs, load ${result.meta.loadavg.join(' ')}`,
    `rounds that ended while another test run was going on (noisier): ${result.meta.quiet.noisyRounds.length ? result.meta.quiet.noisyRounds.join(', ') : 'none'}; waited ${fmt(result.meta.quiet.waitedMs / 1000, 0)} s for quiet`,
    `container ${lab.container} (docker), state dirs on ${result.meta.stateDirFs} (/run), podman on PATH: ${result.meta.podmanOnPath ? 'yes' : 'no'}; ${result.config.runs} rounds round-robin after 1 warm-up`,
    '',
    timing,
    '',
  ];
  if (result.config.only === 'cni') return { stats, cni, text: [...head, cni.text, ''].join('\n') };

  const ratio = (a, b) => a / b;
  const p90 = (k) => stats[k]?.p90 ?? NaN;
  const targets = [
    { target: 'attach - node -e 0', value: med('hostnic attach') - node0, p90: p90('hostnic attach') - p90('node -e 0'), unit: 'ms', limit: TARGETS.attachOverNode, op: '<=' },
    { target: 'detach - node -e 0', value: med('hostnic detach') - node0, p90: p90('hostnic detach') - p90('node -e 0'), unit: 'ms', limit: TARGETS.detachOverNode, op: '<=' },
    { target: 'cycle / floor cycle', value: ratio(med('hostnic cycle'), med('floor cycle')), p90: ratio(p90('hostnic cycle'), p90('floor cycle')), unit: 'x', limit: TARGETS.cycleOverFloor, op: '<=' },
    { target: 'attach@64 / attach@0', value: ratio(med('hostnic attach @64'), med('hostnic attach')), p90: ratio(p90('hostnic attach @64'), p90('hostnic attach')), unit: 'x', limit: TARGETS.scale64, op: '<=' },
    { target: 'peak RSS of one attach', value: result.memory.maxBytes / MIB, p90: NaN, unit: 'MiB', limit: TARGETS.peakRssMiB, op: '<' },
  ].map((t) => ({ ...t, pass: t.op === '<' ? t.value < t.limit : t.value <= t.limit }));
  const info = [
    ['hostnic --version - node -e 0', `${fmt(med('hostnic --version') - node0)} ms`],
    ['attach by name - attach by docker:NAME', `${fmt(med('hostnic attach') - med('hostnic attach (docker:NAME)'))} ms`],
    ['cycle / CNI host-device cycle', `${fmt(ratio(med('hostnic cycle'), med('CNI host-device cycle')), 2)} x`],
    ['cycle - floor cycle', `${fmt(med('hostnic cycle') - med('floor cycle'))} ms`],
    ['2 x node -e 0 / floor cycle (the best any 2-process Node CLI can do)', `${fmt(ratio(2 * node0, med('floor cycle')), 2)} x`],
    ['cycle within the attach/detach targets / floor cycle', `${fmt(ratio(2 * (node0 + TARGETS.attachOverNode), med('floor cycle')), 2)} x`],
    ['guarded floor attach - floor attach (lock, reads, announcement)', `${fmt(med('guarded floor attach') - med('floor attach'))} ms`],
    ['node -e 0 + guarded floor attach - node -e 0 (the least a Node tool with these guarantees adds)', `${fmt(med('guarded floor attach'))} ms`],
    ['hostnic attach - node -e 0 - guarded floor attach (left to Node and hostnic)', `${fmt(med('hostnic attach') - node0 - med('guarded floor attach'))} ms`],
    ['hostnic detach - node -e 0 - guarded floor detach', `${fmt(med('hostnic detach') - node0 - med('guarded floor detach'))} ms`],
    ['(2 x node -e 0 + guarded floor cycle) / floor cycle', `${fmt(ratio(2 * node0 + med('guarded floor cycle'), med('floor cycle')), 2)} x`],
    ['floor 1 process/command / floor (ip -batch)', `${fmt(ratio(med('floor, 1 process/command cycle'), med('floor cycle')), 2)} x`],
    ['detach@64 / detach@0', `${fmt(ratio(med('hostnic detach @64'), med('hostnic detach')), 2)} x`],
    ['attach@16 / attach@0', `${fmt(ratio(med('hostnic attach @16'), med('hostnic attach')), 2)} x`],
  ];
  // Issue 11: the current build against each --before build, measured in the same rounds.
  const startup = befores.flatMap((b) => [
    ['hostnic --version', 'hostnic --version', true],
    ['attach (by name)', 'hostnic attach', true],
    ['detach (by name)', 'hostnic detach', false],
  ].map(([what, key, budgeted]) => {
    const beforeMs = med(`${key}${beforeSuffix(b)}`);
    const nowMs = med(key);
    const diffMs = nowMs - beforeMs;
    return { before: b.rev, sha: b.sha, what, beforeMs, nowMs, diffMs, limitMs: budgeted ? STARTUP_BUDGET_MS : null, pass: budgeted ? diffMs <= STARTUP_BUDGET_MS : null };
  }));
  const tRows = targets.map((t) => [
    t.target,
    `${fmt(t.value, t.unit === 'x' ? 2 : 1)} ${t.unit}`,
    Number.isFinite(t.p90) ? `${fmt(t.p90, t.unit === 'x' ? 2 : 1)} ${t.unit}` : '-',
    `${t.op} ${t.limit} ${t.unit}`,
    t.pass ? 'PASS' : 'MISS',
  ]);
  const text = [
    ...head,
    ...(startup.length ? [startupText(startup, result.meta.git), ''] : []),
    table(['target (issue 7)', 'median', 'p90', 'limit', 'result'], tRows, [1, 2]),
    `peak RSS: ${result.memory.bytes.map((b) => fmt(b / MIB)).join(', ')} MiB (${result.memory.how})`,
    '',
    table(['also', 'value'], info, [1]),
    '',
    cni.text,
    '',
  ].join('\n');
  return { stats, targets, startup, info: Object.fromEntries(info), cni, text };
}

/** The before/after table of the --before builds. */
function startupText(startup, git) {
  const rows = startup.map((r) => [
    r.what,
    `${fmt(r.beforeMs)} (${r.before})`,
    fmt(r.nowMs),
    `${r.diffMs >= 0 ? '+' : ''}${fmt(r.diffMs)}`,
    r.limitMs === null ? '-' : `<= +${r.limitMs}`,
    r.pass === null ? '-' : r.pass ? 'PASS' : 'MISS',
  ]);
  return table([`start-up, medians in ms: before / now (git ${git})`, 'before', 'now', 'now - before', 'budget (issue 11)', 'result'], rows, [1, 2, 3]);
}

function writeJson(dir, prefix, doc) {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${prefix}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(doc, null, 2)}\n`);
  return file;
}

// ------------------------------------------------------------------ profile

/** How a traced command is grouped: the program, and where it runs. */
function commandKind(argv) {
  const base = (p) => String(p).split('/').pop();
  if (base(argv[0]) === 'nsenter') {
    const i = argv.indexOf('--');
    const prog = argv[i >= 0 ? i + 1 : 2];
    return `nsenter + ${base(prog)}`;
  }
  return base(argv[0]);
}

async function traced(lab, stateDir, args, file) {
  const env = hostnicEnv(stateDir, { HOSTNIC_BENCH_TRACE: file });
  const r = await checked(`hostnic ${args.join(' ')}`, hostnicArgv(lab, [...args, '--verbose'], ['--require', PRELOAD]), { env });
  const trace = JSON.parse(readFileSync(file, 'utf8'));
  const t0 = r.startedAt;
  const tEnd = t0 + r.ms;
  const spawns = trace.spawns.filter((s) => s.end > 0);
  const http = trace.http.filter((h) => h.end > 0);
  const firstActivity = Math.min(...spawns.map((s) => s.start), ...http.map((h) => h.start), trace.exitAt);
  const external = unionLength([...spawns, ...http]);
  const spawnSum = spawns.reduce((a, s) => a + (s.end - s.start), 0);
  // "  $ CMD (9.6 ms)" or "  $ CMD failed after 9.6 ms"; CMD may span lines (ip -batch input).
  const verbose = [...r.stderr.matchAll(/^ *\$ ([\s\S]*?)(?: \(([\d.]+) ms\)| failed after ([\d.]+) ms)$/gm)]
    .map((m) => ({ cmd: m[1], ms: Number(m[2] ?? m[3]), ok: m[2] !== undefined }));
  const kinds = {};
  for (const s of spawns) {
    const k = commandKind(s.argv);
    kinds[k] ??= { count: 0, ms: 0 };
    kinds[k].count++;
    kinds[k].ms += s.end - s.start;
  }
  const steps = (`${r.stdout}\n${r.stderr}`.match(/^\s*✔ /gm) ?? []).length - 1; // minus the plan's own line
  return {
    args,
    wallMs: r.ms,
    nodeBootMs: trace.preloadAt - t0, // nsenter exec + Node's own start-up, to our preload
    beforeFirstCommandMs: firstActivity - trace.preloadAt, // bundle + yargs + command modules + parsing
    afterExitMs: tEnd - trace.exitAt, // process teardown
    processes: spawns.length,
    processMsSum: spawnSum,
    externalBusyMs: external, // at least one process or API call running (concurrent ones counted once)
    inProcessMs: trace.exitAt - trace.preloadAt - external, // JavaScript: load, plan, listr, journal, JSON
    httpCalls: http.map((h) => ({ path: h.path, socket: h.socketPath, ms: h.end - h.start, status: h.status })),
    fsync: trace.fsync,
    writes: trace.writes,
    timersFired: trace.timers,
    kinds,
    verboseCommands: verbose,
    verboseSumMs: verbose.reduce((a, v) => a + v.ms, 0),
    spawnsDetail: spawns.map((s) => ({ cmd: s.argv.join(' '), ms: s.end - s.start, at: s.start - t0 })),
    steps,
    stderr: r.stderr,
  };
}

/** esbuild's "// node_modules/PKG/..." and "// src/..." section comments of a readable bundle (bundle.mjs --readable): [{ line, name }]. */
function bundleSections(file) {
  const out = [];
  let lines;
  try { lines = readFileSync(file, 'utf8').split('\n'); } catch { return out; }
  lines.forEach((text, line) => {
    // node_modules/ may come with a path before it (a checkout whose node_modules is a link elsewhere).
    const m = /^\/\/ ((?:\S*\/)?node_modules\/((?:@[^/]+\/)?[^/]+)\/|(src\/\S+))/.exec(text);
    if (m) out.push({ line, name: m[2] ? m[2] : m[3] });
  });
  return out;
}

/**
 * One run under `node --cpu-prof` (100 us sampling): where the CPU time of
 * the hostnic process goes, by package (bundled node_modules), by hostnic
 * source file, Node internals, GC and "(program)" (compiling, native).
 */
async function cpuProfile(lab, stateDir, args) {
  const dir = join(lab.tmp, `cpuprof-${args[0]}-${randomBytes(2).toString('hex')}`);
  mkdirSync(dir);
  const r = await checked(`hostnic ${args[0]} (--cpu-prof)`,
    hostnicArgv(lab, args, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', '100']), { env: hostnicEnv(stateDir) });
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const sections = new Map();
  // Our code: bin/hostnic and the bundle it requires. The profile names
  // both by file:// URL (Node 20); a bare absolute path is taken as well.
  const inBundle = (cf) => cf.url.startsWith('file://') || cf.url.startsWith('/');
  const bundleGroup = (cf) => {
    const path = cf.url.replace(/^file:\/\//, '');
    if (!sections.has(path)) sections.set(path, bundleSections(path));
    const sec = sections.get(path).filter((x) => x.line <= cf.lineNumber).pop();
    return sec ? sec.name : `${path.split('/').pop()} (top level)`;
  };
  // Self time: node internals split by area (node:internal/modules, node:internal/child_process, ...).
  const selfGroup = (cf) => {
    if (!cf.url) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
    if (cf.url.startsWith('node:')) {
      const parts = cf.url.slice(5).split('/');
      return `node:${parts[0] === 'internal' ? parts.slice(0, 2).join('/') : parts[0]}`;
    }
    return inBundle(cf) ? bundleGroup(cf) : cf.url;
  };
  // Inclusive view: each sample charged to the nearest bundled frame on its stack (who asked for the work).
  const callerGroup = (id) => {
    const cf0 = byId.get(id).callFrame;
    if (['(idle)', '(garbage collector)', '(program)'].includes(cf0.functionName)) return cf0.functionName;
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur).callFrame;
      if (cf.url && inBundle(cf)) return bundleGroup(cf);
    }
    return 'Node itself (bootstrap, module loader, no bundled caller)';
  };
  const self = {};
  const caller = {};
  let total = 0;
  prof.samples.forEach((id, i) => {
    const dt = (prof.timeDeltas[i + 1] ?? 0) / 1000;
    const g = selfGroup(byId.get(id).callFrame);
    self[g] = (self[g] ?? 0) + dt;
    const c = callerGroup(id);
    caller[c] = (caller[c] ?? 0) + dt;
    total += dt;
  });
  const busy = total - (self['(idle)'] ?? 0);
  const sorted = (o) => Object.entries(o).filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).map(([name, v]) => ({ name, ms: v }));
  return { wallMs: r.ms, profiledMs: total, busyMs: busy, self: sorted(self), byCaller: sorted(caller) };
}

/** Median time of each building block, alternated, from this (bench) process; a block that fails stops the run. */
async function microBench(lab, n = 15) {
  const { execa } = await import('execa');
  const showBatch = 'link show\naddress show\nroute show\nlink show\nroute show default\n';
  const blocks = [
    { name: 'spawn /bin/true (child_process)', run: () => run(['true']) },
    { name: 'execa("true") (what exec.ts uses)', run: async () => {
      const t = performance.now();
      const r = await execa('true', [], { reject: false, env: { LC_ALL: 'C' }, detached: true, timeout: 30_000 });
      return { code: r.exitCode, signal: r.signal, stderr: r.stderr, ms: performance.now() - t };
    } },
    { name: 'node -e 0', run: () => run([NODE, '-e', '0']) },
    { name: 'node bin/hostnic --version (bundle + yargs)', run: () => run([NODE, CLI, '--version'], { env: plainEnv() }) },
    { name: 'ip -n HOST -json -d link show (ip alone)', run: () => run(['ip', '-n', lab.host, '-json', '-d', 'link', 'show']) },
    { name: 'nsenter --net=HOST ip -json -d link show', run: () => run(inNs(lab.hostNs, ['ip', '-json', '-d', 'link', 'show'])) },
    { name: 'nsenter --net=CTR ip -json -d link show', run: () => run(inNs(lab.ctrNs, ['ip', '-json', '-d', 'link', 'show'])) },
    { name: 'nsenter --net=CTR ip -json addr show dev eth0', run: () => run(inNs(lab.ctrNs, ['ip', '-json', 'addr', 'show', 'dev', 'eth0'])) },
    { name: 'nsenter --net=CTR ip -json -batch - (5 reads)', run: () => run(inNs(lab.ctrNs, ['ip', '-json', '-batch', '-']), { input: showBatch }) },
    { name: '5 x nsenter --net=CTR ip (the same 5 reads)', run: async () => {
      let ms = 0;
      for (const line of showBatch.trim().split('\n')) ms += (await must(inNs(lab.ctrNs, ['ip', '-json', ...line.split(' ')]))).ms;
      return { code: 0, ms };
    } },
    { name: 'nsenter --net=CTR sysctl -n (one key)', run: () => run(inNs(lab.ctrNs, ['sysctl', '-n', 'net.ipv4.conf.all.arp_notify'])) },
    { name: 'ip netns add + ip netns delete', run: async () => {
      const name = `${lab.host}-x`;
      if (!lab.made.netns.includes(name)) lab.made.netns.push(name); // removed by destroy() if interrupted
      const a = await must(['ip', 'netns', 'add', name]);
      const d = await must(['ip', 'netns', 'delete', name]);
      return { code: 0, ms: a.ms + d.ms };
    } },
    { name: 'flock (the state lock, as state.ts spawns it)', run: () => run(['flock', '--exclusive', '--wait', '60', join(lab.stateRoot, 'micro.lock'), 'true']) },
    { name: 'GET /containers/NAME/json, HTTP/1.0 on node:net (hostnic\'s Docker lookup)', run: () => dockerGet(`/containers/${lab.container}/json`) },
  ];
  if (onPath('podman')) {
    // What a bare-name lookup costs hostnic on a machine without Podman's API socket. The container is Docker's: podman exits non-zero.
    blocks.push({ name: 'podman container inspect NAME (no such container)', run: () => run(['podman', 'container', 'inspect', '--format', 'json', lab.container]),
      ok: (r) => r.code !== null });
  }
  const samples = Object.fromEntries(blocks.map((b) => [b.name, []]));
  for (let round = 0; round < n + 1; round++) {
    for (let k = 0; k < blocks.length; k++) {
      const b = blocks[(k + round) % blocks.length];
      const r = await b.run();
      checkAbort();
      if (!(b.ok ?? ((x) => x.code === 0))(r)) {
        throw new Error(`building block "${b.name}" failed (exit ${r.code ?? r.signal}): ${String(r.stderr ?? '').trim().split('\n').slice(-5).join('\n')}`);
      }
      if (round > 0) samples[b.name].push(r.ms);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
}

/**
 * One GET on the Docker socket the way hostnic makes it (getJson in
 * src/runtime/common.ts): a node:net connection, an HTTP/1.0 request
 * written (not ended), the answer read to the daemon's close. code 0 on a 200.
 */
function dockerGet(path, socketPath = '/var/run/docker.sock') {
  const t = performance.now();
  return new Promise((resolve) => {
    const chunks = [];
    const done = (code, stderr) => { sock.destroy(); resolve({ code, stderr, ms: performance.now() - t }); };
    const sock = createConnection(socketPath);
    sock.setTimeout(30_000, () => done(1, `no answer on ${socketPath} within 30 s`));
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n`));
    sock.on('data', (c) => chunks.push(c));
    sock.on('end', () => {
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(Buffer.concat(chunks).toString('latin1'))?.[1];
      done(status === '200' ? 0 : 1, `HTTP ${status ?? '(no status line)'}`);
    });
    sock.on('error', (e) => done(1, `cannot talk to ${socketPath}: ${e.code ?? e.message}`));
  });
}

function profileText(p, node0) {
  const lines = [];
  lines.push(`\n== hostnic ${p.args.join(' ')} --verbose (traced) ==`);
  lines.push(table(['where the wall time goes', 'ms', 'share'], [
    ['wall time (spawn of nsenter to exit)', fmt(p.wallMs), '100%'],
    ['  exec + Node start-up, to the first line of JS', fmt(p.nodeBootMs), `${fmt((100 * p.nodeBootMs) / p.wallMs, 0)}%`],
    ['  bundle + yargs + command modules, to the first command', fmt(p.beforeFirstCommandMs), `${fmt((100 * p.beforeFirstCommandMs) / p.wallMs, 0)}%`],
    ['  waiting on processes / API (union of their intervals)', fmt(p.externalBusyMs), `${fmt((100 * p.externalBusyMs) / p.wallMs, 0)}%`],
    ['  in-process JS after the first command (plan, listr, journal)', fmt(p.inProcessMs - p.beforeFirstCommandMs), `${fmt((100 * (p.inProcessMs - p.beforeFirstCommandMs)) / p.wallMs, 0)}%`],
    ['  process teardown after exit handlers', fmt(p.afterExitMs), `${fmt((100 * p.afterExitMs) / p.wallMs, 0)}%`],
  ], [1, 2]));
  lines.push(`node -e 0 in the same run: ${fmt(node0)} ms; wall - node -e 0 = ${fmt(p.wallMs - node0)} ms`);
  lines.push(`processes spawned: ${p.processes} (sum of their durations ${fmt(p.processMsSum)} ms); --verbose lists ${p.verboseCommands.length} commands, sum ${fmt(p.verboseSumMs)} ms (execa's view); steps: ${p.steps}`);
  lines.push(`Docker/Podman API calls: ${p.httpCalls.length ? p.httpCalls.map((h) => `${h.path} ${fmt(h.ms)} ms`).join(', ') : 'none'}`);
  lines.push(`fsync: ${p.fsync.count} calls, ${fmt(p.fsync.ms)} ms; writeSync: ${p.writes.count} calls, ${fmt(p.writes.ms)} ms; timers >= 20 ms that fired: ${p.timersFired.length ? p.timersFired.map((t) => `${t.ms} ms`).join(', ') : 'none'}`);
  const kinds = Object.entries(p.kinds).sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) => [k, String(v.count), fmt(v.ms), fmt(v.ms / v.count)]);
  lines.push(table(['program', 'count', 'total ms', 'mean ms'], kinds, [1, 2, 3]));
  const top = [...p.spawnsDetail].sort((a, b) => b.ms - a.ms).slice(0, 8).map((s) => [fmt(s.at), fmt(s.ms), s.cmd.length > 110 ? `${s.cmd.slice(0, 107)}...` : s.cmd]);
  lines.push('slowest processes:');
  lines.push(table(['at ms', 'ms', 'command'], top, [0, 1]));
  return lines.join('\n');
}

async function profile(lab, opts) {
  const dir = lab.stateDir('profile');
  process.stderr.write('bench: profile: one untraced warm-up attach + detach\n');
  await hostnicCycle(lab, dir, lab.container);
  await lab.assertReset('the warm-up');
  const node0 = [];
  for (let i = 0; i < 5; i++) node0.push((await checked('node -e 0', inNs(lab.hostNs, [NODE, '-e', '0']))).ms);
  await waitQuiet(opts, 'the traced runs');
  process.stderr.write('bench: profile: traced attach + detach\n');
  const attach = await traced(lab, dir, attachArgs(lab.container), join(lab.tmp, 'trace-attach.json'));
  const detach = await traced(lab, dir, detachArgs(lab.container), join(lab.tmp, 'trace-detach.json'));
  await lab.assertReset('the traced attach + detach');
  process.stderr.write('bench: profile: attach + detach under --cpu-prof\n');
  const cpuA = await cpuProfile(lab, dir, attachArgs(lab.container));
  const cpuD = await cpuProfile(lab, dir, detachArgs(lab.container));
  await lab.assertReset('the --cpu-prof attach + detach');
  await waitQuiet(opts, 'the building blocks');
  process.stderr.write('bench: profile: building blocks (15 rounds)\n');
  const micro = await microBench(lab);
  const n0 = summarize(node0).median;
  const text = [
    profileText(attach, n0),
    profileText(detach, n0),
    '\n== building blocks (median of 15, alternated, spawned from the bench process) ==',
    table(['block', 'median ms', 'p90 ms'], Object.entries(micro).map(([k, s]) => [k, fmt(s.median, 2), fmt(s.p90, 2)]), [1, 2]),
    '',
    ...[['attach', cpuA], ['detach', cpuD]].map(([what, c]) => [
      `\n== ${what} under --cpu-prof: ${fmt(c.wallMs)} ms wall (profiling slows it), CPU busy in the node process ${fmt(c.busyMs)} ms of ${fmt(c.profiledMs)} ms profiled ==`,
      table(['charged to the nearest bundled caller', 'ms', 'share of busy'], c.byCaller.slice(0, 14)
        .map((g) => [g.name, fmt(g.ms), `${fmt((100 * g.ms) / c.busyMs, 0)}%`]), [1, 2]),
      table(['self time', 'ms', 'share of busy'], c.self.slice(0, 10)
        .map((g) => [g.name, fmt(g.ms), `${fmt((100 * g.ms) / c.busyMs, 0)}%`]), [1, 2]),
    ].join('\n')),
    '',
    `cycle: ${fmt(attach.wallMs + detach.wallMs)} ms wall, ${attach.processes + detach.processes} processes, ${fmt(attach.externalBusyMs + detach.externalBusyMs)} ms waiting on them`,
    '',
  ].join('\n');
  const strip = ({ stderr: _stderr, ...rest }) => rest;
  return { doc: { kind: 'profile', meta: meta(lab), node0: summarize(node0), attach: strip(attach), detach: strip(detach), cpuProfile: { attach: cpuA, detach: cpuD }, micro, verbose: { attach: attach.stderr, detach: detach.stderr } }, text };
}

// ------------------------------------------------------------------ main

/** The apply rows (scripts/bench/apply.mjs), with this script's runners. */
function runApplyRows(lab, opts) {
  return benchApply(lab, {
    runs: opts.only === 'apply' ? opts.runs : Math.min(opts.runs, 9),
    hostnicArgv: (args) => hostnicArgv(lab, args),
    hostnicEnv,
    checked,
    node: NODE,
    nodeArgv: inNs(lab.hostNs, [NODE, '-e', '0']),
    checkAbort,
    waitQuiet: (label) => waitQuiet(opts, label),
  });
}

/** The watch rows (scripts/bench/watch.mjs), with this script's runners. */
function runWatchRows(lab, opts) {
  return benchWatch(lab, {
    restarts: opts.only === 'watch' ? Math.max(WATCH_RESTARTS, opts.runs) : WATCH_RESTARTS,
    hostnicArgv: (args) => hostnicArgv(lab, args),
    tracedArgv: (args) => hostnicArgv(lab, args, ['--require', PRELOAD]),
    traced: process.env.HOSTNIC_BENCH_WATCH_TRACE === '1',
    hostnicEnv,
    checked,
    checkAbort,
    waitQuiet: (label) => waitQuiet(opts, label),
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) { console.error('bench: must run as root (it builds network namespaces)'); process.exit(2); }
  if (!existsSync(join(REPO, 'dist', 'hostnic.js'))) { console.error('bench: dist/ is missing: run `node scripts/bundle.mjs` (or `npm run bench`)'); process.exit(2); }
  if (!opts.profile && !existsSync(join(CNI_DIR, 'host-device'))) { console.error(`bench: ${CNI_DIR}/host-device is missing: apt-get install containernetworking-plugins`); process.exit(2); }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, onSignal);

  const lab = new Lab();
  // Last resort if the process is leaving without the async cleanup having run.
  process.on('exit', () => {
    if (lab.destroyed) return;
    signalAll('SIGKILL');
    spawnSync('docker', ['rm', '-f', lab.container, ...(lab.apply?.containers ?? []).map((c) => c.name), ...(lab.watch ? [lab.watch.container] : [])], { stdio: 'ignore' });
    for (const ns of lab.made.netns) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    spawnSync('rm', ['-rf', lab.stateRoot, lab.tmp], { stdio: 'ignore' });
  });

  let code = 0;
  try {
    process.stderr.write(`bench: lab ${lab.id}: namespaces ${lab.host}, ${lab.cloud}; container ${lab.container}\n`);
    await lab.setup();
    const build = snapshotBuild(lab, opts);
    const befores = opts.before.map((rev) => buildRevision(REPO, rev, lab.tmp, (line) => process.stderr.write(`${line}\n`)));
    process.stderr.write(`bench: hostnic under test: ${CLI} (dist sha256 ${build})\n`);
    await waitQuiet(opts, 'the lab setup');
    const idInfo = await must(['docker', 'inspect', '--format', '{{.Id}}', lab.container]);
    lab.ctrId = idInfo.stdout.trim();
    checkAbort();
    if (opts.only === 'watch' || (!opts.profile && !opts.only)) {
      process.stderr.write('bench: one more NIC and container for the watch rows\n');
      await setupWatchLab(lab);
    }
    if (opts.only === 'apply' || (!opts.profile && !opts.only)) {
      process.stderr.write(`bench: ${APPLY_N} more NICs and containers for the apply rows\n`);
      await setupApplyLab(lab);
    }
    if (opts.only === 'watch') {
      const res = await runWatchRows(lab, opts);
      const rep = watchReport(res);
      process.stdout.write(rep.text);
      const file = writeJson(opts.out, 'bench-watch', { kind: 'bench-watch', meta: { ...meta(lab), build, quiet }, ...res, stats: rep.stats, targets: rep.targets });
      process.stdout.write(`written: ${file}\n`);
    } else if (opts.only === 'apply') {
      const samples = await runApplyRows(lab, opts);
      const rep = applyReport(samples);
      process.stdout.write(rep.text);
      const file = writeJson(opts.out, 'bench-apply', { kind: 'bench-apply', meta: { ...meta(lab), build, quiet }, config: { runs: opts.runs }, samples, stats: rep.stats, targets: rep.targets });
      process.stdout.write(`written: ${file}\n`);
    } else if (opts.profile) {
      const { doc, text } = await profile(lab, opts);
      doc.meta.build = build;
      process.stdout.write(text);
      const file = writeJson(opts.out, 'profile', doc);
      process.stdout.write(`written: ${file}\n`);
    } else {
      const started = performance.now();
      const m0 = meta(lab);
      const result = await benchmark(lab, opts, befores);
      // The apply rows, unless only the CNI rows were asked for.
      const applySamples = opts.only === 'cni' ? null : await runApplyRows(lab, opts);
      const applyRep = applySamples && applyReport(applySamples);
      if (applyRep) result.apply = { samples: applySamples, stats: applyRep.stats, targets: applyRep.targets };
      // The watch rows, in the full run only.
      const watchRes = opts.only ? null : await runWatchRows(lab, opts);
      const watchRep = watchRes && watchReport(watchRes);
      if (watchRep) result.watch = { ...watchRes, stats: watchRep.stats, targets: watchRep.targets };
      const doc = { kind: 'bench', meta: { ...m0, build, quiet, loadavgAfter: loadavg().map((x) => Number(x.toFixed(2))), seconds: (performance.now() - started) / 1000 }, config: { runs: opts.runs, warmup: 1, only: opts.only ?? null, addr: ADDR_GW, nic: NIC, targets: TARGETS, before: befores.map(({ rev, sha, short }) => ({ rev, sha, short })), startupBudgetMs: STARTUP_BUDGET_MS }, ...result };
      const rep = report(doc, lab);
      process.stdout.write(rep.text);
      if (applyRep) process.stdout.write(applyRep.text);
      if (watchRep) process.stdout.write(watchRep.text);
      const file = writeJson(opts.out, 'bench', { ...doc, stats: rep.stats, targets: rep.targets, startup: rep.startup, also: rep.info, cni: rep.cni && { summary: rep.cni.summary, where: rep.cni.where, traced: rep.cni.traced } });
      process.stdout.write(`written: ${file}\n`);
    }
  } catch (e) {
    if (e instanceof Aborted) {
      process.stderr.write(`bench: ${e.message}\n`);
      code = aborted === 'SIGINT' ? 130 : aborted === 'SIGTERM' ? 143 : 129;
    } else {
      process.stderr.write(`bench: ${e.stack ?? e}\n`);
      code = 1;
    }
  } finally {
    await drain();
    const problems = [...await destroyWatchLab(lab), ...await destroyApplyLab(lab), ...await lab.destroy()];
    if (problems.length) {
      process.stderr.write(`bench: cleanup problems:\n  ${problems.join('\n  ')}\n`);
      code ||= 1;
    } else process.stderr.write(`bench: lab ${lab.id} removed\n`);
  }
  process.exitCode = code;
}

await main();
