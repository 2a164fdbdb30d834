// The `hostnic apply` rows of the benchmark (issue 13): 16 entries into 16
// running Docker containers, in one process,
//
//   hostnic apply (16 to attach)   from nothing attached
//   hostnic apply (16 in place)    right after: nothing to do, nothing may change
//   floor, 16 attaches             a bash script doing the floor attach (scripts/bench.mjs
//                                  writeFloorScripts: one host `ip`, one `nsenter ip -batch`) 16 times, one after another
//   node -e 0                      (the baseline of the in-place target)
//   guarded floor, 16 attaches     the floor plus the lock, the reads and the sysctls hostnic's guarantees need
//   kernel: 16 moves               `ip link set netns` alone, one after another and all at once
//   stack floor ...                the least a program on hostnic's stack does for the same apply
//                                  (scripts/bench/stack-floor.mjs: yargs, yaml, execa, node:http;
//                                  no journal, lock or check), in place and attaching
//
// against the targets: apply 16 <= 1.5 x the floor; apply in place <= node -e 0 + 100 ms.
// Run alone with `node scripts/bench.mjs --only apply`; the full run includes it.
// Between rounds (not timed): hostnic's attachments go with `apply --prune`
// of an empty file, the floor's with its own give-back script.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { GW4, IMAGE } from './lab.mjs';
import { inNs, must, run } from './proc.mjs';
import { fmt, summarize, table } from './stats.mjs';

export const N = 16;
export const APPLY_TARGETS = { applyOverFloor: 1.5, inPlaceOverNodeMs: 100 };
const CTR_IF = 'eth1';

/** 16 NICs on the lab's cloud bridge and 16 containers, made once. */
export async function setupApplyLab(lab) {
  lab.apply = { nics: [], containers: [] };
  for (let i = 1; i <= N; i++) {
    const nic = `anic${i}`;
    await must(['ip', '-n', lab.host, 'link', 'add', 'name', nic, 'type', 'veth', 'peer', 'name', `p-${nic}`, 'netns', lab.cloud]);
    await must(['ip', '-n', lab.cloud, 'link', 'set', 'dev', `p-${nic}`, 'master', 'br0', 'up']);
    await must(['ip', '-n', lab.host, 'link', 'set', 'dev', nic, 'up']);
    lab.apply.nics.push(nic);
  }
  for (let i = 1; i <= N; i++) {
    const name = `${lab.container}-a${i}`;
    lab.apply.containers.push({ name });
    await must(['docker', 'run', '-d', '--name', name, '--label', 'hostnic-bench=1', IMAGE, 'sleep', '1000000'], { timeoutMs: 60_000 });
  }
  await Promise.all(lab.apply.containers.map(async (c) => {
    c.pid = Number((await must(['docker', 'inspect', '--format', '{{.State.Pid}}', c.name])).stdout.trim());
    c.ns = `/proc/${c.pid}/ns/net`;
    const routes = JSON.parse((await must(inNs(c.ns, ['ip', '-4', '-json', 'route', 'show', 'default']))).stdout || '[]');
    c.def = routes[0] ? { gateway: routes[0].gateway, dev: routes[0].dev } : null;
  }));
  // The desired-state files, under a config root of the lab's own (root's, 0755).
  const conf = join(lab.tmp, 'conf');
  mkdirSync(join(conf, 'etc', 'hostnic'), { recursive: true, mode: 0o755 });
  chmodSync(conf, 0o755);
  const file = join(conf, 'etc', 'hostnic', 'attachments.yaml');
  const entries = lab.apply.containers.map((c, k) => [
    `  - container: docker:${c.name}`,
    `    nic: ${lab.apply.nics[k]}`,
    `    addresses: [192.168.1.${100 + k}/24@${GW4}]`,
  ].join('\n'));
  writeFileSync(file, `attachments:\n${entries.join('\n')}\n`, { mode: 0o644 });
  const empty = join(conf, 'etc', 'hostnic', 'empty.yaml');
  writeFileSync(empty, 'attachments: []\n', { mode: 0o644 });
  // The floor: the same change as the floor attach, 16 times in a row; and its give-back (not timed).
  const attach = lab.apply.containers.map((c, k) => {
    const nic = lab.apply.nics[k];
    return `ip link set dev ${nic} netns ${c.ns}\nnsenter --net=${c.ns} ip -batch - <<'EOF'\nlink set dev ${nic} name ${CTR_IF}\naddr add 192.168.1.${100 + k}/24 dev ${CTR_IF}\nlink set dev ${CTR_IF} up\nroute replace default via ${GW4} dev ${CTR_IF}\nEOF\n`;
  });
  const detach = lab.apply.containers.map((c, k) => {
    const nic = lab.apply.nics[k];
    const restore = c.def ? `route replace default via ${c.def.gateway} dev ${c.def.dev}` : 'route del default';
    return `nsenter --net=${c.ns} ip -batch - <<'EOF'\n${restore}\nlink set dev ${CTR_IF} down\nlink set dev ${CTR_IF} name ${nic}\nlink set dev ${nic} netns ${lab.hostNs}\nEOF\nip link set dev ${nic} up\n`;
  });
  // The guarded floor, 16 times in a row: the floor plus what any tool with hostnic's guarantees
  // must add per attach (scripts/bench.mjs writeFloorScripts): a lock, a read of both namespaces,
  // the NIC down before the move, the announcement sysctls after it. Its give-back is the floor's.
  const READ = (ip) => `printf 'link show\\naddr show\\nroute show table all\\n' | ${ip} -d -json -batch - >/dev/null`;
  const guarded = lab.apply.containers.map((c, k) => {
    const nic = lab.apply.nics[k];
    return `exec 9>>${join(lab.tmp, `guarded16-${k}.lock`)}\nflock --exclusive 9\n${READ('ip')} &\n${READ(`nsenter --net=${c.ns} ip`)} &\nwait\n`
      + `ip -batch - <<'EOF'\nlink set dev ${nic} down\nlink set dev ${nic} netns ${c.ns}\nEOF\n`
      + `nsenter --net=${c.ns} sysctl -q -w net/ipv4/conf/${nic}/arp_notify=1 net/ipv6/conf/${nic}/ndisc_notify=1\n`
      + `nsenter --net=${c.ns} ip -batch - <<'EOF'\nlink set dev ${nic} name ${CTR_IF}\naddr add 192.168.1.${100 + k}/24 dev ${CTR_IF}\nlink set dev ${CTR_IF} up\nroute replace default via ${GW4} dev ${CTR_IF}\nEOF\nexec 9>&-\n`;
  });
  // The kernel alone: the 16 moves (no rename, no address), one after another and all at once. The
  // kernel moves one NIC at a time (under its rtnl lock, where a move sleeps): side by side wins nothing.
  const move = (c, k) => `ip link set dev ${lab.apply.nics[k]} netns ${c.ns}`;
  const movesInRow = `${lab.apply.containers.map((c, k) => `${move(c, k)}\n`).join('')}`;
  const movesAtOnce = `${lab.apply.containers.map((c, k) => `${move(c, k)} &\n`).join('')}wait\n`;
  const movesBack = lab.apply.containers.map((c, k) => `nsenter --net=${c.ns} ip link set dev ${lab.apply.nics[k]} netns ${lab.hostNs}\nip link set dev ${lab.apply.nics[k]} up\n`).join('');
  // The least an in-place check can do: read each container's namespace once (side by side).
  const reads = `${lab.apply.containers.map((c) => `${READ(`nsenter --net=${c.ns} ip`)} &\n`).join('')}wait\n`;
  const head = '#!/bin/bash\n# hostnic bench: 16 floor attaches one after another (generated by scripts/bench/apply.mjs)\nset -e\n';
  lab.apply.guardedAttach = join(lab.tmp, 'guarded16-attach.sh');
  lab.apply.reads = join(lab.tmp, 'reads16.sh');
  writeFileSync(lab.apply.guardedAttach, head + guarded.join(''), { mode: 0o755 });
  writeFileSync(lab.apply.reads, head + reads, { mode: 0o755 });
  for (const [k, text] of Object.entries({ movesInRow, movesAtOnce, movesBack })) {
    lab.apply[k] = join(lab.tmp, `${k}16.sh`);
    writeFileSync(lab.apply[k], head + text, { mode: 0o755 });
  }
  // The stack floor, bundled as hostnic is (one minified CommonJS file), so its start compares.
  lab.apply.stackFloor = join(lab.tmp, 'stack-floor.cjs');
  await build({
    entryPoints: [new URL('./stack-floor.mjs', import.meta.url).pathname], outfile: lab.apply.stackFloor,
    bundle: true, platform: 'node', format: 'cjs', minify: true, logLevel: 'warning',
  });
  lab.apply.floorAttach = join(lab.tmp, 'floor16-attach.sh');
  lab.apply.floorDetach = join(lab.tmp, 'floor16-detach.sh');
  writeFileSync(lab.apply.floorAttach, head + attach.join(''), { mode: 0o755 });
  writeFileSync(lab.apply.floorDetach, head + detach.join(''), { mode: 0o755 });
  Object.assign(lab.apply, { conf, file, empty });
}

/** Remove the 16 containers (their veths come back to the lab host, or die with them). */
export async function destroyApplyLab(lab) {
  const problems = [];
  for (const c of lab.apply?.containers ?? []) {
    const r = await run(['docker', 'rm', '-f', c.name], { timeoutMs: 60_000 });
    if (r.code !== 0 && !/no such container/i.test(r.stderr)) problems.push(`docker rm -f ${c.name}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** Every NIC in the host and up, no NIC of ours in any container: the start of a round. */
async function assertApplyReset(lab, after) {
  const host = JSON.parse((await must(['ip', '-n', lab.host, '-json', 'link', 'show'])).stdout || '[]');
  const missing = lab.apply.nics.filter((n) => !host.some((l) => l.ifname === n && (l.flags ?? []).includes('UP')));
  if (missing.length) throw new Error(`after ${after}: ${missing.join(', ')} not back (up) in the host`);
}

/**
 * The rounds: each contender once per round, the order rotating.
 * `t`: { hostnicArgv(args), hostnicEnv(stateDir, extra), checked(what, argv, opts), node (its path), nodeArgv, runs, checkAbort, waitQuiet(label) }
 */
export async function benchApply(lab, t) {
  const stateDir = lab.stateDir('apply16');
  const env = t.hostnicEnv(stateDir, { HOSTNIC_CONFIG_ROOT: lab.apply.conf });
  const samples = {};
  // Each row's wall time, and (under `cpu:`) the CPU time of the program and all it ran.
  const add = (k, r) => {
    (samples[k] ??= []).push(r.ms);
    (samples[`cpu:${k}`] ??= []).push(r.cpuMs);
  };
  const prune = async () => {
    await t.checked('hostnic apply --prune (reset)', t.hostnicArgv(['apply', '-f', lab.apply.empty, '--prune']), { env });
    await assertApplyReset(lab, 'apply --prune');
  };
  const floor = (...args) => inNs(lab.hostNs, [t.node, lab.apply.stackFloor, ...args]);
  const contenders = [
    { name: 'node -e 0', run: async () => add('node -e 0', await t.checked('node -e 0', t.nodeArgv)) },
    {
      name: 'hostnic apply',
      run: async () => {
        add(`hostnic apply (${N} to attach)`, await t.checked('hostnic apply', t.hostnicArgv(['apply']), { env }));
        t.checkAbort();
        const again = await t.checked('hostnic apply (in place)', t.hostnicArgv(['apply', '--json']), { env });
        const report = JSON.parse(again.stdout);
        if (!report.entries.every((e) => e.action === 'in-place')) throw new Error(`the second apply was not all in place: ${again.stdout}`);
        add(`hostnic apply (${N} in place)`, again);
        // The stack floor's in-place reads, on the records hostnic just wrote.
        add(`stack floor: ${N} in place, execa`, await t.checked('stack floor in place', floor('in-place', lab.apply.file), { env }));
        add(`stack floor: ${N} in place, bare spawn`, await t.checked('stack floor in place (bare)', floor('in-place', lab.apply.file, '--bare'), { env }));
        await prune();
      },
    },
    {
      name: 'guarded floor',
      run: async () => {
        add(`guarded floor, ${N} attaches`, await t.checked('guarded floor 16 attaches', inNs(lab.hostNs, ['bash', lab.apply.guardedAttach])));
        add(`bash: read the ${N} namespaces`, await t.checked('read 16 namespaces', inNs(lab.hostNs, ['bash', lab.apply.reads])));
        await t.checked('guarded floor 16 give-back', inNs(lab.hostNs, ['bash', lab.apply.floorDetach]));
        await assertApplyReset(lab, 'the guarded floor give-back');
      },
    },
    {
      name: 'stack floor',
      run: async () => {
        for (const [how, extra] of [['one execa per command', []], ['ip sessions', ['--session']]]) {
          add(`stack floor: ${N} attaches, ${how}`, await t.checked(`stack floor 16 attaches (${how})`, floor('attach', lab.apply.file, ...extra), { env }));
          await t.checked('stack floor 16 give-back', inNs(lab.hostNs, ['bash', lab.apply.floorDetach]));
          await assertApplyReset(lab, 'the stack floor give-back');
        }
      },
    },
    {
      name: 'floor',
      run: async () => {
        add(`floor, ${N} attaches`, await t.checked('floor 16 attaches', inNs(lab.hostNs, ['bash', lab.apply.floorAttach])));
        await t.checked('floor 16 give-back', inNs(lab.hostNs, ['bash', lab.apply.floorDetach]));
        await assertApplyReset(lab, 'the floor give-back');
        for (const [k, name] of [['movesInRow', `kernel: ${N} moves, one after another`], ['movesAtOnce', `kernel: ${N} moves, all at once`]]) {
          add(name, await t.checked(name, inNs(lab.hostNs, ['bash', lab.apply[k]])));
          await t.checked(`${name} (give-back)`, inNs(lab.hostNs, ['bash', lab.apply.movesBack]));
          await assertApplyReset(lab, `${name} (give-back)`);
        }
      },
    },
  ];
  for (let round = 0; round <= t.runs; round++) {
    const warm = round === 0;
    await t.waitQuiet(warm ? 'the apply warm-up round' : `apply round ${round}`);
    process.stderr.write(`bench: apply ${warm ? 'warm-up round' : `round ${round}/${t.runs}`}\n`);
    for (let k = 0; k < contenders.length; k++) {
      await contenders[(k + round) % contenders.length].run();
      t.checkAbort();
    }
    if (warm) for (const key of Object.keys(samples)) delete samples[key];
  }
  return samples;
}

export function applyReport(samples) {
  const stats = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
  const med = (k) => stats[k]?.median ?? NaN;
  const p90 = (k) => stats[k]?.p90 ?? NaN;
  const rows = Object.entries(stats).filter(([k]) => !k.startsWith('cpu:'))
    .map(([k, s]) => [k, String(s.n), fmt(s.median), fmt(s.p90), fmt(s.min), fmt(med(`cpu:${k}`), 0)]);
  const targets = [
    { target: `apply ${N} / floor ${N} attaches`, value: med(`hostnic apply (${N} to attach)`) / med(`floor, ${N} attaches`), p90: p90(`hostnic apply (${N} to attach)`) / p90(`floor, ${N} attaches`), unit: 'x', limit: APPLY_TARGETS.applyOverFloor },
    { target: `apply ${N} in place - node -e 0`, value: med(`hostnic apply (${N} in place)`) - med('node -e 0'), p90: p90(`hostnic apply (${N} in place)`) - p90('node -e 0'), unit: 'ms', limit: APPLY_TARGETS.inPlaceOverNodeMs },
  ].map((x) => ({ ...x, pass: x.value <= x.limit }));
  // Why the targets are where they are, in the same run: the least a tool with hostnic's guarantees does.
  const floors = [
    [`guarded floor ${N} / floor ${N} (below this, a guarantee was dropped)`, `${fmt(med(`guarded floor, ${N} attaches`) / med(`floor, ${N} attaches`), 2)} x`],
    [`apply ${N} / guarded floor ${N}`, `${fmt(med(`hostnic apply (${N} to attach)`) / med(`guarded floor, ${N} attaches`), 2)} x`],
    [`bash: read the ${N} namespaces (the least an in-place check reads)`, `${fmt(med(`bash: read the ${N} namespaces`))} ms`],
    [`kernel: ${N} moves / floor ${N} (the part of the floor nothing can overlap)`, `${fmt(med(`kernel: ${N} moves, one after another`) / med(`floor, ${N} attaches`), 2)} x`],
    [`kernel: ${N} moves all at once / one after another (1: the kernel moves one at a time)`, `${fmt(med(`kernel: ${N} moves, all at once`) / med(`kernel: ${N} moves, one after another`), 2)} x`],
    // The stack floor: the same apply by a program on hostnic's stack that does nothing else (no journal, lock or check).
    ...['one execa per command', 'ip sessions'].map((how) => [
      `stack floor ${N} attaches, ${how} / floor ${N}`, `${fmt(med(`stack floor: ${N} attaches, ${how}`) / med(`floor, ${N} attaches`), 2)} x`]),
    ...['execa', 'bare spawn'].map((how) => [
      `stack floor ${N} in place, ${how} - node -e 0`, `${fmt(med(`stack floor: ${N} in place, ${how}`) - med('node -e 0'))} ms`]),
    [`apply ${N} in place - stack floor ${N} in place, execa (hostnic's own work)`, `${fmt(med(`hostnic apply (${N} in place)`) - med(`stack floor: ${N} in place, execa`))} ms`],
  ];
  const text = [
    '',
    `hostnic apply: ${N} entries into ${N} running Docker containers, one process`,
    table(['contender', 'n', 'median ms', 'p90 ms', 'min ms', 'CPU ms'], rows, [1, 2, 3, 4, 5]),
    `(CPU ms: median CPU time of the program and every command it ran, all CPUs, to 10 ms; ${availableParallelism()} CPUs here)`,
    '',
    table(['target', 'median', 'p90', 'limit', ''], targets.map((x) => [
      x.target, `${fmt(x.value, x.unit === 'x' ? 2 : 1)} ${x.unit}`, `${fmt(x.p90, x.unit === 'x' ? 2 : 1)} ${x.unit}`, `<= ${x.limit} ${x.unit}`, x.pass ? 'PASS' : 'MISS',
    ]), [1, 2, 3]),
    '',
    table(['floor', 'median'], floors, [1]),
    '',
  ].join('\n');
  return { stats, targets, floors: Object.fromEntries(floors), text };
}
