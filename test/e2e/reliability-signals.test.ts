/**
 * Signals: SIGINT, SIGTERM and SIGHUP in the middle of a step roll the plan
 * back and exit 130 / 143 / 129; a second Ctrl+C during the rollback does not
 * abort it. The signal goes to hostnic's whole process group, as a terminal's
 * Ctrl+C does (the commands hostnic runs are in groups of their own).
 * A signal after the last step has run is too late to cancel anything: the
 * attach stands, is recorded, and hostnic exits 0 saying so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, requireRoot, signalGroup, waitForExit, waitForOutput, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, pausedAt, resume, signalThenResume } from '../helpers/hostnic.js';
import {
  attachmentFiles, takeHostName, viaPrivateNamespace, giveDefaultRoute, journalFiles, netnsExists, startPaused, theJournal, HOOKS,
} from './reliability-helpers.js';

const root = requireRoot();

// Both ways a NIC can travel: straight into the container (renamed there), and,
// when the container has a link with the NIC's host name, through a private namespace.
for (const path of ['direct', 'private'] as const) describe.skipIf(!root)(`signals during a plan (${path} path)`, () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;
  let steps: { title: string }[];
  const attach = (): string[] => ['attach', `pid:${ctr.pid}`, nic, '192.168.1.30/24@192.168.1.1', 'fd00:1::30/64',
    '--route', '198.51.100.0/24@192.168.1.1', '--mac', '02:00:00:00:00:30'];

  beforeAll(async () => {
    // No IPv6 DAD: after each rollback the NIC's link-local address (and, after a detach, the container's) would be
    // tentative again, and each snapshot would wait for its DAD (~1-2 s). DAD has nothing to do with signals.
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ addrs: ['10.50.0.3/24'], mtu: 1460, alias: 'signals' });
    await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.arp_ignore=1`]);
    ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    if (path === 'private') await takeHostName(lab, ctr, nic);
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
    steps = (JSON.parse((await lab.hostnic([...attach(), '--dry-run', '--json'])).stdout) as { plan: { steps: { title: string }[] } }).plan.steps;
    if (viaPrivateNamespace(steps) !== (path === 'private')) throw new Error(`the plan does not take the ${path} path`);
  });
  afterAll(async () => { await lab?.destroy(); });

  async function expectUnchanged(label: string, tmpNs: string): Promise<void> {
    expect.soft(comparable(await lab.snapshot(lab.host)), `${label}: host`).toEqual(comparable(hostBefore));
    expect.soft(comparable(await lab.snapshot(ctr.nsPath)), `${label}: container`).toEqual(comparable(ctrBefore));
    expect.soft(netnsExists(tmpNs), `${label}: ${tmpNs}`).toBe(false);
    expect.soft(journalFiles(lab), label).toEqual([]);
    expect.soft(attachmentFiles(lab), label).toEqual([]);
  }

  const cases: [NodeJS.Signals, number][] = [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]];
  for (const [signal, code] of cases) {
    it(`${signal} in the middle of a step (host side, the move, container side): rolled back, exit ${code}`, async () => {
      // One point on each side of the hop: the host-side cleanup, the NIC in the private namespace, the container.
      const at = [1, steps.findIndex((s) => /^Rename /.test(s.title)), steps.length - 2];
      for (const n of at) {
        const label = `${signal} at after:${n} (${steps[n]!.title})`;
        const child = await startPaused(lab, attach(), `after:${n}`);
        const tmp = `hostnic-${theJournal(lab).id}`;
        await signalThenResume(child, signal, lab.stateDir);
        const r = await waitForExit(child);
        expect.soft(r.exitCode, `${label}\n${r.stderr}`).toBe(code);
        expect.soft(r.stderr, label).toMatch(new RegExp(`^hostnic: interrupted by ${signal}; every change was rolled back$`, 'm'));
        expect.soft(r.stderr, label).not.toMatch(/please wait/);
        await expectUnchanged(label, tmp);
      }
    });
  }

  it('a second and a third signal during the rollback do not abort it: "rolling back, please wait", then exit 130', async () => {
    const stop = steps.length - 3;
    const undoAt = steps.findIndex((s) => /^Move .* into pid:/.test(s.title));
    const child = lab.spawnHostnic(attach(), { env: { ...HOOKS, HOSTNIC_TEST_PAUSE: `after:${stop},undo:${undoAt}` } });
    await pausedAt(lab.stateDir, `after:${stop}`);
    const tmp = `hostnic-${theJournal(lab).id}`;
    await signalThenResume(child, 'SIGINT', lab.stateDir);
    await pausedAt(lab.stateDir, `undo:${undoAt}`);
    expect(theJournal(lab).phase).toBe('rollback');
    signalGroup(child, 'SIGINT');
    await waitForOutput(child, /rolling back, please wait/);
    signalGroup(child, 'SIGTERM');
    await waitForOutput(child, /rolling back, please wait\n(.|\n)*rolling back, please wait/);
    resume(lab.stateDir);
    const r = await waitForExit(child);
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toMatch(/^hostnic: interrupted by SIGINT; every change was rolled back$/m);
    await expectUnchanged('second signal', tmp);
  });

  // Once the last step has run the attach has succeeded: a signal then is
  // too late to cancel it. Rolling back would undo a finished, true result;
  // exiting 143 with nothing written would leave an attachment no record knows.
  for (const [signal, where] of [['SIGTERM', 'before:N'], ['SIGINT', 'after:N-1'], ['SIGHUP', 'before:N']] as const) {
    it(`${signal} after the last step (${where}): the attach stands, is recorded, exit 0, and says so`, async () => {
      const at = where === 'before:N' ? `before:${steps.length}` : `after:${steps.length - 1}`;
      const child = await startPaused(lab, attach(), at);
      const tmp = `hostnic-${theJournal(lab).id}`;
      if (where === 'before:N') expect(theJournal(lab).steps.every((s) => s.state === 'done')).toBe(true);
      await signalThenResume(child, signal, lab.stateDir);
      const r = await waitForExit(child);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^hostnic: ${signal} arrived after the last step had run: the plan is complete and recorded, not rolled back$`, 'm'));
      expect(r.stderr).not.toMatch(/rolled back;|ROLLBACK/);
      expect(r.stdout).toMatch(new RegExp(`attached ${nic} `));
      expect(journalFiles(lab)).toEqual([]);
      expect(attachmentFiles(lab)).toHaveLength(1);
      // Attached as asked: in the container, addressed, up; gone from the host.
      const c = await lab.snapshot(ctr.nsPath);
      const eth = c.links.find((l) => l.address === '02:00:00:00:00:30');
      expect(eth?.flags).toContain('UP');
      expect(eth?.addrs.map((a) => a.local)).toContain('192.168.1.30');
      expect((await lab.snapshot(lab.host)).links.some((l) => l.ifname === nic)).toBe(false);
      const s = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { nic: string; status: string }[] };
      expect(s.attachments).toEqual([expect.objectContaining({ nic, status: 'in place' })]);
      expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
      await expectUnchanged(`detached after ${signal}`, tmp);
    });
  }

  it('Ctrl+C during a detach: the detach is rolled back, the NIC stays attached, exit 130', async () => {
    expect((await lab.hostnic(attach())).exitCode).toBe(0);
    const hostAttached = await lab.snapshot(lab.host);
    const ctrAttached = await lab.snapshot(ctr.nsPath);
    const record = attachmentFiles(lab);
    const at = steps.findIndex((s) => /^Move .* into pid:/.test(s.title));
    const n = steps.length - 1 - at; // the same move, backwards
    const child = await startPaused(lab, ['detach', `pid:${ctr.pid}`], `after:${n}`);
    const tmp = `hostnic-${theJournal(lab).id}`;
    await signalThenResume(child, 'SIGINT', lab.stateDir);
    const r = await waitForExit(child);
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toMatch(/^hostnic: interrupted by SIGINT; every change was rolled back$/m);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostAttached));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrAttached));
    expect(netnsExists(tmp)).toBe(false);
    expect(journalFiles(lab)).toEqual([]);
    expect(attachmentFiles(lab)).toEqual(record);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
    await expectUnchanged('detached', tmp);
  });
});

describe.skipIf(!root)('a signal during the last step of one NIC of a multi-NIC detach', () => {
  let lab: Lab;
  afterAll(async () => { await lab?.destroy(); });

  it('that NIC is detached, the next is not started: exit 130, it stays attached', async () => {
    lab = await createLab({ dad: false });
    const nics = [await lab.addNic(), await lab.addNic()];
    const ctr = await lab.addContainer();
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nics[0]!, '192.168.1.31/24'])).exitCode).toBe(0);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nics[1]!, '192.168.1.32/24'])).exitCode).toBe(0);
    const plan = JSON.parse((await lab.hostnic(['detach', `pid:${ctr.pid}`, '--dry-run', '--json'])).stdout) as { plans: { steps: unknown[] }[] };
    const last = `before:${plan.plans[0]!.steps.length}`;
    const child = await startPaused(lab, ['detach', `pid:${ctr.pid}`], last);
    await signalThenResume(child, 'SIGINT', lab.stateDir);
    // Had the next NIC's detach started, it would stop at the same point: let it go on, so the test ends either way.
    const exited = waitForExit(child);
    const again = (async () => { try { await pausedAt(lab.stateDir, last, 5000); resume(lab.stateDir); } catch { /* exited first */ } })();
    const r = await exited;
    await again;
    expect(r.exitCode, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^hostnic: interrupted by SIGINT: not detached: \S+$/m);
    const host = (await lab.snapshot(lab.host)).links.map((l) => l.ifname);
    expect(nics.filter((n) => host.includes(n))).toHaveLength(1);
    expect(attachmentFiles(lab)).toHaveLength(1);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
  });
});
