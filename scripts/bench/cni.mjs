// The CNI rows of the benchmark (issue 14): hostnic as a CNI plugin against
// Debian's host-device on the same NIC, and against hostnic's own CLI.
//
//   hostnic CNI VERSION        Node start + the bundle, no work (what every CNI call pays first)
//   hostnic CNI ADD / DEL      bin/hostnic with CNI_COMMAND, config type hostnic, static IPAM
//   CNI host-device ADD / DEL  the same config with type host-device
//   hostnic CLI attach / detach by the same netns path (/proc/PID/ns/net), the same address
//   hostnic CNI ADD / DEL, traced  the same under scripts/bench/preload.cjs: time in child
//                              processes (ip, nsenter, flock, the IPAM plugin) by program
//
// The traced runs are a contender of their own (the preload costs a little),
// used only to say where the time of an ADD and a DEL goes: Node's start, the
// bundle and the config up to the first child process, the child processes
// (ip, nsenter, flock, the IPAM plugin), and hostnic's own JavaScript.
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ADDR, GW4, NIC } from './lab.mjs';
import { inNs, must } from './proc.mjs';
import { fmt, summarize, table, unionLength } from './stats.mjs';

export const CNI_DIR = '/usr/lib/cni';
const CTR_IF = 'eth1';
const NETWORK = 'hostnic-bench';

function cniConfig(type) {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: NETWORK,
    type,
    device: NIC,
    ipam: { type: 'static', addresses: [{ address: ADDR, gateway: GW4 }], routes: [{ dst: '0.0.0.0/0' }] },
  });
}

/** The environment a runtime gives a plugin (libcni: its own environment plus the CNI_ variables). */
function cniEnv(lab, cmd, extra = {}) {
  return {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: lab.ctrId,
    CNI_NETNS: lab.ctrNs,
    CNI_IFNAME: CTR_IF,
    CNI_PATH: CNI_DIR,
    ...extra,
  };
}

/** A traced run's split: wall, Node to the preload, child processes (union) by program, the rest in JS. */
function split(r, file) {
  const trace = JSON.parse(readFileSync(file, 'utf8'));
  const spawns = trace.spawns.filter((s) => s.end > 0);
  const byProgram = {};
  for (const s of spawns) {
    const base = (p) => String(p).split('/').pop();
    const k = base(s.argv[0]) === 'nsenter' ? `nsenter + ${base(s.argv[s.argv.indexOf('--') + 1] ?? s.argv[2])}` : base(s.argv[0]);
    byProgram[k] = (byProgram[k] ?? 0) + (s.end - s.start);
  }
  const children = unionLength(spawns);
  const first = Math.min(...spawns.map((x) => x.start), trace.exitAt);
  return {
    wall: r.ms,
    boot: trace.preloadAt - r.startedAt,
    load: first - trace.preloadAt,
    children,
    js: trace.exitAt - first - children,
    exit: r.startedAt + r.ms - trace.exitAt,
    processes: spawns.length,
    byProgram,
  };
}

/**
 * The contenders, for bench.mjs's round-robin, and where the traced runs'
 * splits go. deps: { checked, hostnicEnv, hostnicArgv, node, cli(), preload,
 * add(key, ms) }; `dirs`: state dirs { cni, cniTraced, cli }.
 */
export function cniContenders(lab, deps, dirs) {
  const { checked, add } = deps;
  const hostnicCni = (cmd, stateDir, nodeFlags = [], extra = {}) => ({
    argv: inNs(lab.hostNs, [deps.node, ...nodeFlags, deps.cli()]),
    env: { ...deps.hostnicEnv(stateDir), ...cniEnv(lab, cmd, extra) },
  });
  const hostnic = cniConfig('hostnic');
  const hostDevice = cniConfig('host-device');
  const target = lab.ctrNs; // the CLI's target: the same netns path CNI_NETNS names
  const traced = {};
  const contenders = [
    { name: 'hostnic CNI VERSION', run: async () => {
      const { argv, env } = hostnicCni('VERSION', dirs.cni);
      add('hostnic CNI VERSION', (await checked('hostnic CNI VERSION', argv, { env })).ms);
    } },
    { name: 'hostnic CNI', reset: true, run: async () => {
      const a = hostnicCni('ADD', dirs.cni);
      const d = hostnicCni('DEL', dirs.cni);
      const ra = await checked('hostnic CNI ADD', a.argv, { env: a.env, input: hostnic });
      const rd = await checked('hostnic CNI DEL', d.argv, { env: d.env, input: hostnic });
      add('hostnic CNI ADD', ra.ms);
      add('hostnic CNI DEL', rd.ms);
      add('hostnic CNI cycle', ra.ms + rd.ms);
    } },
    { name: 'CNI host-device', reset: true, run: async () => {
      const argv = inNs(lab.hostNs, [join(CNI_DIR, 'host-device')]);
      const ra = await checked('CNI host-device ADD', argv, { env: cniEnv(lab, 'ADD'), input: hostDevice });
      const rd = await checked('CNI host-device DEL', argv, { env: cniEnv(lab, 'DEL'), input: hostDevice });
      // DEL gives the NIC back down (it does not restore the up state): not part of the timing.
      await must(['ip', '-n', lab.host, 'link', 'set', 'dev', NIC, 'up']);
      add('CNI host-device ADD', ra.ms);
      add('CNI host-device DEL', rd.ms);
      add('CNI host-device cycle', ra.ms + rd.ms);
    } },
    { name: 'hostnic CLI (netns path)', reset: true, run: async () => {
      const env = deps.hostnicEnv(dirs.cli);
      const ra = await checked('hostnic attach (netns path)', deps.hostnicArgv(lab, ['attach', target, NIC, `${ADDR}@${GW4}`]), { env });
      const rd = await checked('hostnic detach (netns path)', deps.hostnicArgv(lab, ['detach', target, NIC]), { env });
      add('hostnic CLI attach (netns path)', ra.ms);
      add('hostnic CLI detach (netns path)', rd.ms);
      add('hostnic CLI cycle (netns path)', ra.ms + rd.ms);
    } },
    { name: 'hostnic CNI, traced', reset: true, run: async () => {
      for (const cmd of ['ADD', 'DEL']) {
        const file = join(lab.tmp, `cni-trace-${cmd}.json`);
        const { argv, env } = hostnicCni(cmd, dirs.cniTraced, ['--require', deps.preload], { HOSTNIC_BENCH_TRACE: file });
        const r = await checked(`hostnic CNI ${cmd} (traced)`, argv, { env, input: hostnic });
        (traced[cmd] ??= []).push(split(r, file));
      }
    } },
  ];
  return { contenders, traced };
}

/** The traced splits of one command, as medians. */
function tracedMedians(list) {
  const med = (f) => summarize(list.map(f)).median;
  const programs = [...new Set(list.flatMap((t) => Object.keys(t.byProgram)))];
  return {
    n: list.length,
    wall: med((t) => t.wall),
    boot: med((t) => t.boot),
    load: med((t) => t.load),
    children: med((t) => t.children),
    js: med((t) => t.js),
    exit: med((t) => t.exit),
    processes: med((t) => t.processes),
    byProgram: Object.fromEntries(programs.map((p) => [p, med((t) => t.byProgram[p] ?? 0)]).sort((a, b) => b[1] - a[1])),
  };
}

/** The CNI section of the report: ratios, the no-more-than-the-CLI check, and where the time goes. */
export function cniReport(stats, traced) {
  const med = (k) => stats[k]?.median ?? NaN;
  const node0 = med('node -e 0');
  const version = med('hostnic CNI VERSION');
  const t = { ADD: tracedMedians(traced.ADD ?? []), DEL: tracedMedians(traced.DEL ?? []) };
  const cycle = med('hostnic CNI cycle');
  const cli = med('hostnic CLI cycle (netns path)');
  const hd = med('CNI host-device cycle');
  const summary = {
    cycleOverHostDevice: cycle / hd,
    cycleMinusHostDevice: cycle - hd,
    cycleOverCli: cycle / cli,
    cycleMinusCli: cycle - cli,
    noMoreThanCli: cycle <= cli,
    twoNodeStartsOverHostDevice: (2 * node0) / hd,
  };
  // Each command's traced runs, split: Node's start (exec to the preload), loading the bundle and reading
  // the config up to the first child process, the child processes (union), hostnic's JavaScript between
  // and after them (locks' bookkeeping, reads parsed, planning, journal), the process's exit.
  const where = ['ADD', 'DEL'].map((cmd) => ({ cmd, untraced: med(`hostnic CNI ${cmd}`), ...t[cmd] }));
  const rows = where.map((w) => [`hostnic CNI ${w.cmd}`, fmt(w.untraced), fmt(w.wall), fmt(w.boot), fmt(w.load), fmt(w.children), fmt(w.js), fmt(w.exit)]);
  const progRows = ['ADD', 'DEL'].flatMap((cmd) => Object.entries(t[cmd].byProgram).map(([p, ms]) => [`${cmd}: ${p}`, fmt(ms)]));
  const text = [
    table(['CNI (issue 14), medians', 'value'], [
      ['hostnic CNI ADD+DEL / host-device ADD+DEL', `${fmt(summary.cycleOverHostDevice, 2)} x (+${fmt(summary.cycleMinusHostDevice)} ms)`],
      ['hostnic CNI ADD+DEL / CLI attach+detach (same NIC, same netns path)', `${fmt(summary.cycleOverCli, 2)} x (${summary.cycleMinusCli >= 0 ? '+' : ''}${fmt(summary.cycleMinusCli)} ms): ${summary.noMoreThanCli ? 'no more than the CLI' : 'MORE than the CLI'}`],
      ['2 x node -e 0 / host-device ADD+DEL', `${fmt(summary.twoNodeStartsOverHostDevice, 2)} x`],
    ], [1]),
    '',
    `node -e 0 ${fmt(node0)} ms, hostnic CNI VERSION ${fmt(version)} ms (Node's start + the bundle, no work): every CNI call pays it`,
    table(['where the time goes (medians, ms)', 'wall', 'traced wall', 'Node start', 'bundle + config', 'child processes', 'hostnic JS', 'exit'], rows, [1, 2, 3, 4, 5, 6, 7]),
    `from ${t.ADD.n} traced ADD and DEL runs (scripts/bench/preload.cjs; child processes: union of their intervals; ${fmt(t.ADD.processes, 0)} / ${fmt(t.DEL.processes, 0)} processes)`,
    table(['child processes by program (sum, ms)', 'ms'], progRows, [1]),
  ].join('\n');
  return { summary, where, traced: t, text };
}
