/**
 * Crash safety: hostnic SIGKILLed at every step boundary of attach and of
 * detach, then `hostnic recover`. Deterministic: the test-only pause points
 * (HOSTNIC_TEST_PAUSE, test/README.md) stop hostnic exactly there, the test
 * kills the whole process group, and checks what the kernel and the state
 * directory look like before and after recover.
 *
 *  - `before:0`: the journal is written, no step started.
 *  - `applying:N`: the journal says step N is applying, none of its commands
 *                ran (recover undoes a step that did nothing: every undo
 *                must accept "already so").
 *  - `after:N`:  step N's commands ran, the journal still says "applying"
 *                (the hardest point: recover does not know how far it got).
 *  - `before:<steps>`: every step ran, the records are not written yet:
 *                recover completes the plan instead of undoing it.
 *  - `undo:N`:   killed again in the middle of a rollback.
 *
 * `before:N` for 0 < N < steps is not swept: after a SIGKILL nothing tells
 * it from `after:N-1`. The process sits between two steps either way, and
 * on disk step N-1 (and the rest of its batch) still reads "applying": the
 * runner writes the journal when the next step starts, not when one ends
 * (test/README.md, HOSTNIC_TEST_PAUSE). So recover sees the same journal
 * and the same system at both, and `after:N-1` stands for both.
 * SIGKILL at moments with no hooks at all (the production path) is swept in
 * recover-sweep.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, signalThenResume } from '../helpers/hostnic.js';
import {
  attachmentFiles, takeHostName, viaPrivateNamespace, crash, giveDefaultRoute, journalFiles, netnsExists, startPaused, theJournal, untagged, HOOKS, type JournalDoc,
} from './reliability-helpers.js';

const root = requireRoot();

interface Point { where: string; index: number; after: boolean }

/**
 * before:0, applying:0, after:0, applying:1, after:1, ... after:n-1, then
 * before:n (all done, records not written). before:i (0 < i < n) is the
 * same crash as after:i-1 (see the top of this file).
 */
function points(n: number): Point[] {
  const out: Point[] = [{ where: 'before:0', index: 0, after: false }];
  for (let i = 0; i < n; i++) {
    out.push({ where: `applying:${i}`, index: i, after: false }, { where: `after:${i}`, index: i, after: true });
  }
  out.push({ where: `before:${n}`, index: n, after: false });
  return out;
}

/**
 * Should the plan's private namespace exist at this point? From the journal:
 * it exists once the step that creates it has run and until the step that
 * removes it has run (in attach and in detach alike, the creating step is the
 * forward netns.add, the removing one its inverse).
 */
function tmpNsExpected(j: JournalDoc, p: Point): boolean {
  const create = j.steps.findIndex((s) => s.spec.kind === 'netns.add' && !s.spec.inverse);
  const remove = j.steps.findIndex((s) => s.spec.kind === 'netns.add' && !!s.spec.inverse);
  const ran = (k: number): boolean => (p.after ? k <= p.index : k < p.index);
  return ran(create) && !ran(remove);
}

// Both ways a NIC can travel: straight into the container (renamed there), and,
// when the container has a link with the NIC's host name, through a private namespace.
for (const path of ['direct', 'private'] as const) describe.skipIf(!root)(`SIGKILL at every step boundary, then recover (${path} path)`, () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;
  let hostAttached: Snapshot;
  let ctrAttached: Snapshot;
  let steps: number;
  const attach = (): string[] => ['attach', `pid:${ctr.pid}`, nic, '192.168.1.20/24@192.168.1.1', 'fd00:1::20/64',
    '--route', '198.51.100.0/24@192.168.1.1', '--mtu', '1400'];
  const detach = (): string[] => ['detach', `pid:${ctr.pid}`, nic];

  beforeAll(async () => {
    lab = await createLab();
    // No IPv6 duplicate address detection in this lab: every recover puts IPv6 addresses back, and a
    // snapshot waits for DAD to settle (~1 s each time). DAD has nothing to do with what is tested here.
    await lab.inNs(lab.host, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    // Every kind of step: host route, host addresses, host sysctl, down, private namespace, rename, move,
    // container sysctls, addresses, up, default route swap, extra route.
    nic = await lab.addNic({ addrs: ['10.50.0.2/24', 'fd00:50::2/64'], mtu: 1450, alias: 'before' });
    await lab.inNs(lab.host, ['ip', 'route', 'add', '10.60.0.0/16', 'via', '10.50.0.1', 'dev', nic]);
    await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.rp_filter=2`]);
    ctr = await lab.addContainer();
    await lab.inNs(ctr.nsPath, ['sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0']);
    await giveDefaultRoute(lab, ctr);
    if (path === 'private') await takeHostName(lab, ctr, nic);
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
    const plan = JSON.parse((await lab.hostnic([...attach(), '--dry-run', '--json'])).stdout) as { plan: { steps: { title: string }[] } };
    steps = plan.plan.steps.length;
    if (viaPrivateNamespace(plan.plan.steps) !== (path === 'private')) throw new Error(`the plan does not take the ${path} path`);
    // The reference "attached" state, from a run nobody interrupts.
    const a = await lab.hostnic(attach());
    if (a.exitCode !== 0) throw new Error(a.stderr);
    hostAttached = await lab.snapshot(lab.host);
    ctrAttached = await lab.snapshot(ctr.nsPath);
    const d = await lab.hostnic(detach());
    if (d.exitCode !== 0) throw new Error(d.stderr);
  });
  afterAll(async () => { await lab?.destroy(); });

  async function expectState(label: string, host: Snapshot, container: Snapshot): Promise<void> {
    expect.soft(untagged(await lab.snapshot(lab.host)), `${label}: host`).toEqual(untagged(host));
    expect.soft(untagged(await lab.snapshot(ctr.nsPath)), `${label}: container`).toEqual(untagged(container));
  }

  /**
   * Kill hostnic at `p`, check what survives the kill, then recover. Returns
   * whether recover completed the plan (else it rolled it back).
   */
  async function killAndRecover(args: string[], p: Point, detaching: boolean): Promise<'completed' | 'rolled back'> {
    const label = `${args[0]} killed at ${p.where}`;
    const child = await startPaused(lab, args, p.where);
    const j = theJournal(lab);
    const tmp = `hostnic-${j.id}`;
    const dead = await crash(child);
    expect.soft(dead.signal, label).toBe('SIGKILL');

    // What the dead process left: its journal, and its private namespace if it had one at that point
    // (created with `ip netns add` in the machine's mount namespace, so it outlives the process).
    expect.soft(journalFiles(lab), label).toEqual([`${j.id}.json`]);
    expect.soft(netnsExists(tmp), `${label}: ${tmp} exists`).toBe(tmpNsExpected(j, p));

    // Until recover ran, touching that NIC is refused, naming recover. The refusal reads only the
    // journal's `touches`, written once before step 0 and the same at every point: checked at the
    // first point (nothing done yet) and at the last (everything done, no record yet).
    if (p.where === 'before:0' || p.index === steps) {
      const blocked = await lab.hostnic(attach());
      expect.soft(blocked.exitCode, `${label}: attach meanwhile`).toBe(1);
      expect.soft(blocked.stderr, `${label}: attach meanwhile`).toMatch(/^hostnic: an unfinished plan \(.*\) touches .*\nhint: run `hostnic recover`/);
    }

    const r = await lab.hostnic(['recover']);
    expect.soft(r.exitCode, `${label}: recover\n${r.stderr}`).toBe(0);
    const completed = p.index === steps;
    const action = completed ? 'completed' : 'rolled back';
    expect.soft(r.stdout, label).toMatch(new RegExp(`^${action}: ${detaching ? 'Detach' : 'Attach'} .* \\(left by pid ${j.pid} at `, 'm'));
    expect.soft(netnsExists(tmp), `${label}: ${tmp} after recover`).toBe(false);
    expect.soft(journalFiles(lab), `${label}: journal after recover`).toEqual([]);
    return action;
  }

  it('attach: killed before and after each step, recover rolls back to the state before (or completes it after the last)', async () => {
    for (const p of points(steps)) {
      const action = await killAndRecover(attach(), p, false);
      if (action === 'completed') {
        await expectState(`attach ${p.where} completed`, hostAttached, ctrAttached);
        expect.soft(attachmentFiles(lab)).toHaveLength(1);
        const d = await lab.hostnic(detach());
        expect(d.exitCode, d.stderr).toBe(0);
      }
      await expectState(`attach ${p.where}`, hostBefore, ctrBefore);
      expect.soft(attachmentFiles(lab), p.where).toEqual([]);
    }
    expect(await lab.hostnic(['recover'])).toMatchObject({ exitCode: 0, stdout: 'nothing to recover\n' });
  }, 600_000);

  it('detach: killed before and after each step, recover rolls back to attached (or completes the detach after the last)', async () => {
    expect((await lab.hostnic(attach())).exitCode).toBe(0);
    await expectState('attached', hostAttached, ctrAttached);
    const record = attachmentFiles(lab);
    expect(record).toHaveLength(1);
    const plan = JSON.parse((await lab.hostnic([...detach(), '--dry-run', '--json'])).stdout) as { plans: { steps: unknown[] }[] };
    expect(plan.plans[0]!.steps).toHaveLength(steps);
    for (const p of points(steps)) {
      const action = await killAndRecover(detach(), p, true);
      if (action === 'completed') {
        await expectState(`detach ${p.where} completed`, hostBefore, ctrBefore);
        expect.soft(attachmentFiles(lab), p.where).toEqual([]);
      } else {
        await expectState(`detach ${p.where}`, hostAttached, ctrAttached);
        expect.soft(attachmentFiles(lab), p.where).toEqual(record);
        // The attachment is intact: status agrees.
        const s = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string }[] };
        expect.soft(s.attachments.map((a) => a.status), p.where).toEqual(['in place']);
      }
    }
  }, 600_000);

  it('killed again in the middle of the rollback (after a SIGINT): recover finishes the rollback', async () => {
    const { pausedAt } = await import('../helpers/hostnic.js');
    const half = Math.floor(steps / 2);
    // Not after the last step: a signal there no longer rolls back (the attach succeeded; reliability-signals.test.ts).
    for (const [stopAt, undoAt] of [[steps - 2, half], [half, 1], [2, 2]] as const) {
      const label = `interrupted at after:${stopAt}, killed at undo:${undoAt}`;
      const child = lab.spawnHostnic(attach(), { env: { ...HOOKS, HOSTNIC_TEST_PAUSE: `after:${stopAt},undo:${undoAt}` } });
      await pausedAt(lab.stateDir, `after:${stopAt}`);
      await signalThenResume(child, 'SIGINT', lab.stateDir);
      await pausedAt(lab.stateDir, `undo:${undoAt}`);
      expect.soft(theJournal(lab).phase, label).toBe('rollback');
      await crash(child);
      const r = await lab.hostnic(['recover']);
      expect.soft(r.exitCode, `${label}\n${r.stderr}`).toBe(0);
      expect.soft(r.stdout, label).toMatch(/^rolled back: Attach /m);
      await expectState(label, hostBefore, ctrBefore);
      expect.soft(journalFiles(lab), label).toEqual([]);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });
});
