/**
 * `hostnic recover` always finishes (issue 12, section 3). Sweeps, on both
 * move paths (`direct`, and `private` when the container has a link with
 * the NIC's host name):
 *
 *  - hostnic SIGKILLed at spread-out moments of attach and of detach (no
 *    test hooks: the production path, batches and all);
 *  - the container killed at every pause point of attach and of detach
 *    (test hooks), with hostnic then left to go on, or killed too.
 *
 * Every run ends, after `recover`, with the NIC home and the host exactly as
 * before, or attached and recorded (and then a detach brings it home
 * exactly), with no journal and no private namespace left; at the end of
 * each sweep a second `recover` says "nothing to recover" (exit 0).
 *
 * A veth dies with its namespace where a physical NIC returns to the host
 * (its name, or devIFINDEX when the name is taken there): before killing a
 * container the test moves the NIC back that way, as the kernel would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { createLab, requireRoot, waitForExit, type Lab, type Proc, type RunResult, type Snapshot } from '../helpers/lab.js';
import { hostnicTempNamespaces, resume } from '../helpers/hostnic.js';
import {
  attachmentFiles, crash, giveDefaultRoute, journalFiles, startPaused, takeHostName, untagged, viaPrivateNamespace,
} from './reliability-helpers.js';

const root = requireRoot();
/**
 * SIGKILLs per command and path: one before the plan's journal exists (Node
 * start-up, reads, locks taken), the others spread over the plan itself,
 * from the moment its journal appears to a little past the end (jittered,
 * so reruns land elsewhere). Not every step boundary: reliability-crash
 * kills at each one with hooks, and the sweeps below kill the container at
 * each one. What only hook-less kills reach is a kill inside an `ip -batch`
 * process, between batches, and around the records being written.
 * (Offsets from the start of the process put 5 kills of 12 in Node's
 * start-up, before anything is written: the same "untouched" case again.)
 */
const KILLS = 8;

interface LinkJson { ifname: string; ifindex: number; address?: string }

/**
 * Every point where the runner can pause in a plan of n steps: before:0,
 * applying:i and after:i for each step, before:n (all done, no record yet).
 * before:i (i > 0) is left out: the system and the journal on disk are then
 * exactly as at after:i-1 (test/README.md).
 */
function pausePoints(n: number): string[] {
  const out = ['before:0'];
  for (let i = 0; i < n; i++) out.push(`applying:${i}`, `after:${i}`);
  return [...out, `before:${n}`];
}

for (const path of ['direct', 'private'] as const) describe.skipIf(!root)(`recover always finishes (${path} path)`, () => {
  let lab: Lab;
  let nic: string;
  let mac: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;
  let hostAttached: Snapshot;
  let ctrAttached: Snapshot;
  let steps: number;
  /** How long an attach and a detach take here, uninterrupted (ms): until their journal appears, then the plan to the exit. */
  const took = { attach: { start: 0, plan: 0 }, detach: { start: 0, plan: 0 } };
  // The private path also changes the MAC: the NIC is then found by either.
  const newMac = '02:00:00:5e:00:42';
  const attach = (c: Proc): string[] => ['attach', `pid:${c.pid}`, nic, '192.168.1.20/24@192.168.1.1', 'fd00:1::20/64',
    '--route', '198.51.100.0/24@192.168.1.1', '--mtu', '1400', ...(path === 'private' ? ['--mac', newMac] : [])];
  const detach = (c: Proc): string[] => ['detach', `pid:${c.pid}`, nic];
  const outcomes: string[] = [];

  async function newContainer(): Promise<Proc> {
    const c = await lab.addContainer();
    await lab.inNs(c.nsPath, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    await giveDefaultRoute(lab, c);
    if (path === 'private') await takeHostName(lab, c, nic);
    return c;
  }

  beforeAll(async () => {
    lab = await createLab();
    await lab.inNs(lab.host, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    nic = await lab.addNic({ addrs: ['10.50.0.2/24', 'fd00:50::2/64'], mtu: 1450, alias: 'before' });
    await lab.inNs(lab.host, ['ip', 'route', 'add', '10.60.0.0/16', 'via', '10.50.0.1', 'dev', nic]);
    await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.rp_filter=2`]);
    // The name a NIC that comes home from a dead container as eth1 would clash with (then it is devN).
    await lab.addNic({ name: 'eth1' });
    mac = (JSON.parse((await lab.inNs(lab.host, ['ip', '-json', 'link', 'show', 'dev', nic])).stdout) as LinkJson[])[0]!.address!;
    ctr = await newContainer();
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
    const plan = JSON.parse((await lab.hostnic([...attach(ctr), '--dry-run', '--json'])).stdout) as { plan: { steps: { title: string }[] } };
    steps = plan.plan.steps.length;
    if (viaPrivateNamespace(plan.plan.steps) !== (path === 'private')) throw new Error(`the plan does not take the ${path} path`);
    const a = await timed(attach(ctr));
    took.attach = a.took;
    if (a.exitCode !== 0) throw new Error(a.stderr);
    hostAttached = await lab.snapshot(lab.host);
    ctrAttached = await lab.snapshot(ctr.nsPath);
    const d = await timed(detach(ctr));
    took.detach = d.took;
    if (d.exitCode !== 0) throw new Error(d.stderr);
  });
  afterAll(async () => {
    process.stdout.write(`recover sweep (${path}): ${outcomes.length} runs: ${summary(outcomes)}\n`);
    await lab?.destroy();
  });

  const hostIs = async (want: Snapshot, label: string): Promise<void> => {
    expect.soft(untagged(await lab.snapshot(lab.host)), `${label}: host`).toEqual(untagged(want));
  };

  /**
   * recover finishes: exit 0, no journal and no private namespace left. Returns what it said.
   * A second recover after each run would read the same empty journal directory every time
   * (recover acts only on journals): it runs once at the end of each sweep (recoverAgain).
   */
  async function recoverOnce(label: string): Promise<string> {
    const r = await lab.hostnic(['recover']);
    expect.soft(r.exitCode, `${label}: recover\n${r.stdout}${r.stderr}`).toBe(0);
    expect.soft(journalFiles(lab), `${label}: journals`).toEqual([]);
    expect.soft(await hostnicTempNamespaces(), `${label}: private namespaces`).toEqual([]);
    return r.stdout;
  }

  /** After a sweep: recover again has nothing left to do. */
  async function recoverAgain(): Promise<void> {
    const again = await lab.hostnic(['recover']);
    expect({ exit: again.exitCode, out: again.stdout }, `second recover\n${again.stderr}`).toEqual({ exit: 0, out: 'nothing to recover\n' });
  }

  /** Wait until hostnic's journal exists (or it ended). */
  async function journalWritten(child: ChildProcess): Promise<void> {
    while (journalFiles(lab).length === 0 && child.exitCode === null) await new Promise((r) => setTimeout(r, 3));
  }

  /** Run hostnic uninterrupted: its result, and how long it took until its journal appeared and from then on. */
  async function timed(args: string[]): Promise<RunResult & { took: { start: number; plan: number } }> {
    const child = lab.spawnHostnic(args);
    const done = waitForExit(child);
    const t0 = Date.now();
    await journalWritten(child);
    const t1 = Date.now();
    const r = await done;
    return { ...r, took: { start: t1 - t0, plan: Date.now() - t1 } };
  }

  interface Moment { from: 'start' | 'journal'; ms: number }

  /** One moment before the journal, the others over [0, 1.1] of the plan, jittered. */
  const moments = (took: { start: number; plan: number }): Moment[] => [
    { from: 'start', ms: Math.round(took.start * (0.5 + 0.4 * Math.random())) },
    ...Array.from({ length: KILLS - 1 }, (_, k): Moment => ({ from: 'journal', ms: Math.round((took.plan * 1.1 * (k + Math.random())) / (KILLS - 1)) })),
  ];

  /** Kill `child` `m.ms` after its start or after its journal appeared (or when it ends by itself). */
  async function killAt(child: ChildProcess, m: Moment): Promise<void> {
    if (m.from === 'journal') await journalWritten(child);
    const started = Date.now();
    while (Date.now() - started < m.ms && child.exitCode === null) await new Promise((r) => setTimeout(r, 3));
    await crash(child);
  }

  it('SIGKILL at spread-out moments of attach (no hooks): after recover, the host as before, or attached and recorded', async () => {
    const seen: string[] = [];
    for (const m of moments(took.attach)) {
      const label = `attach killed ${m.ms} ms after its ${m.from}`;
      await killAt(lab.spawnHostnic(attach(ctr)), m);
      const said = await recoverOnce(label);
      if (attachmentFiles(lab).length > 0) {
        seen.push('attached');
        await hostIs(hostAttached, `${label}: attached`);
        expect.soft(untagged(await lab.snapshot(ctr.nsPath)), `${label}: container`).toEqual(untagged(ctrAttached));
        const d = await lab.hostnic(detach(ctr));
        expect(d.exitCode, `${label}: detach\n${d.stderr}`).toBe(0);
      } else {
        seen.push(/rolled back/.test(said) ? 'rolled back' : 'untouched');
      }
      await hostIs(hostBefore, label);
      expect.soft(untagged(await lab.snapshot(ctr.nsPath)), `${label}: container`).toEqual(untagged(ctrBefore));
    }
    outcomes.push(...seen);
    // The kills reached into the plan (not all before it started or after it ended).
    expect(seen, seen.join(', ')).toContain('rolled back');
    await recoverAgain();
  }, 120_000);

  it('SIGKILL at spread-out moments of detach (no hooks): after recover, still attached and recorded, or home exactly', async () => {
    expect((await lab.hostnic(attach(ctr))).exitCode).toBe(0);
    const seen: string[] = [];
    for (const m of moments(took.detach)) {
      const label = `detach killed ${m.ms} ms after its ${m.from}`;
      await killAt(lab.spawnHostnic(detach(ctr)), m);
      const said = await recoverOnce(label);
      if (attachmentFiles(lab).length > 0) {
        seen.push(/rolled back/.test(said) ? 'detach rolled back' : 'detach untouched');
        await hostIs(hostAttached, `${label}: attached`);
        expect.soft(untagged(await lab.snapshot(ctr.nsPath)), `${label}: container`).toEqual(untagged(ctrAttached));
        const s = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string }[] };
        expect.soft(s.attachments.map((a) => a.status), label).toEqual(['in place']);
      } else {
        seen.push('detached');
        await hostIs(hostBefore, label);
        expect.soft(untagged(await lab.snapshot(ctr.nsPath)), `${label}: container`).toEqual(untagged(ctrBefore));
        expect((await lab.hostnic(attach(ctr))).exitCode).toBe(0);
      }
    }
    outcomes.push(...seen);
    expect(seen, seen.join(', ')).toContain('detach rolled back');
    expect((await lab.hostnic(detach(ctr))).exitCode).toBe(0);
    await hostIs(hostBefore, 'at the end');
    await recoverAgain();
  }, 120_000);

  /**
   * The container dies: a physical NIC in its namespace goes back to the host
   * under its name there, or devIFINDEX when that is taken. Done by hand for
   * the veth, which would die with the namespace.
   */
  async function containerDies(c: Proc): Promise<void> {
    const inCtr = (JSON.parse((await lab.inNs(c.nsPath, ['ip', '-json', 'link', 'show'])).stdout) as LinkJson[])
      .find((l) => [mac, newMac].includes((l.address ?? '').toLowerCase()) && l.ifname !== 'lo');
    if (inCtr) {
      const inHost = JSON.parse((await lab.inNs(lab.host, ['ip', '-json', 'link', 'show'])).stdout) as LinkJson[];
      const name = inHost.some((l) => l.ifname === inCtr.ifname) ? `dev${inCtr.ifindex}` : inCtr.ifname;
      const m = await lab.inNs(c.nsPath, ['ip', 'link', 'set', 'dev', inCtr.ifname, 'netns', lab.hostNs, 'name', name]);
      if (m.exitCode !== 0) throw new Error(m.stderr);
    }
    await c.kill();
  }

  /**
   * The container killed at pause point `where` of a command; then hostnic
   * goes on (`resume`) or is killed too (`kill`). After recover (and a
   * detach, if the attachment is still recorded), the host is as before.
   */
  async function containerKilledAt(command: 'attach' | 'detach', where: string, then: 'resume' | 'kill'): Promise<void> {
    const label = `${command}: container killed at ${where}, hostnic ${then === 'resume' ? 'goes on' : 'killed'}`;
    const c = await newContainer();
    if (command === 'detach') {
      const a = await lab.hostnic(attach(c));
      expect(a.exitCode, `${label}: attach\n${a.stderr}`).toBe(0);
    }
    const child = await startPaused(lab, command === 'attach' ? attach(c) : detach(c), where);
    await containerDies(c);
    let r;
    if (then === 'resume') {
      resume(lab.stateDir);
      r = await waitForExit(child);
    } else {
      r = await crash(child);
    }
    await recoverOnce(`${label} (hostnic exit ${r.exitCode}: ${r.stderr.split('\n')[0]})`);
    if (attachmentFiles(lab).length > 0) {
      const d = await lab.hostnic(['detach', `pid:${c.pid}`]);
      expect.soft(d.exitCode, `${label}: detach after\n${d.stdout}${d.stderr}`).toBe(0);
      outcomes.push(`${command}: container killed, recorded, detached`);
    } else {
      outcomes.push(`${command}: container killed, rolled back`);
    }
    expect.soft(attachmentFiles(lab), `${label}: records`).toEqual([]);
    await hostIs(hostBefore, label);
  }

  it('the container killed at every pause point of attach (hostnic goes on, or is killed too): the NIC home, the host as before', async () => {
    for (const [k, where] of pausePoints(steps).entries()) await containerKilledAt('attach', where, k % 2 === 0 ? 'resume' : 'kill');
    await recoverAgain();
  }, 120_000);

  it('the container killed at every pause point of detach (hostnic goes on, or is killed too): the NIC home, the host as before', async () => {
    for (const [k, where] of pausePoints(steps).entries()) await containerKilledAt('detach', where, k % 2 === 0 ? 'kill' : 'resume');
    await recoverAgain();
  }, 120_000);
});

function summary(list: string[]): string {
  const n = new Map<string, number>();
  for (const o of list) n.set(o, (n.get(o) ?? 0) + 1);
  return [...n].map(([k, v]) => `${k} ×${v}`).join(', ');
}
