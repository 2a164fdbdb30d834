/**
 * Concurrency: hostnic locks what a plan touches, with flock(2) on
 * <state-dir>/locks/<key> (src/runner/locks.ts): the NIC's name and MAC and
 * the container's namespace. Eight attaches of one NIC started at once: one
 * wins, seven fail cleanly saying where the NIC went. Work on different NICs
 * and containers runs side by side; work on the same NIC or container waits.
 * A holder that dies (SIGKILL) frees its locks: the kernel drops them with the
 * descriptor.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, requireRoot, run, waitForExit, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, resume, withoutLink } from '../helpers/hostnic.js';
import { attachmentFiles, crash, expectOneError, journalFiles, startPaused } from './reliability-helpers.js';

const root = requireRoot();

const lockDir = (lab: Lab): string => join(lab.stateDir, 'locks');
const lockFiles = (lab: Lab): string[] => (existsSync(lockDir(lab)) ? readdirSync(lockDir(lab)).map((f) => join(lockDir(lab), f)) : []);

/** The lock files someone holds right now (`flock --nonblock` on each, from the test). */
async function locksHeld(lab: Lab): Promise<string[]> {
  const held: string[] = [];
  for (const f of lockFiles(lab)) {
    if ((await run(['flock', '--nonblock', '--exclusive', f, 'true'])).exitCode !== 0) held.push(f);
  }
  return held;
}

/** The lock file of a key, as src/runner/locks.ts names it. */
const lockFile = (lab: Lab, key: string): string => join(lockDir(lab), encodeURIComponent(key));

/** Wait until `pid` has a `flock --wait` child: it is queued on the lock (a `--nonblock` try is not). */
async function waitQueued(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid && readlinkSync(`/proc/${e}/exe`).endsWith('/flock') && readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').includes('--wait')) return;
      } catch { /* gone */ }
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`process ${pid} never waited on the lock`);
}

describe.skipIf(!root)('concurrent hostnic processes', () => {
  let lab: Lab;
  let nic: string;
  let ctrs: Proc[];
  let hostBefore: Snapshot;
  let ctrsBefore: Snapshot[];

  beforeAll(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ addrs: ['10.50.0.4/24'], alias: 'contended' });
    await lab.addNic({ name: 'spare1' });
    ctrs = [];
    for (let k = 0; k < 8; k++) ctrs.push(await lab.addContainer());
    hostBefore = await lab.snapshot(lab.host);
    ctrsBefore = await Promise.all(ctrs.map((c) => lab.snapshot(c.nsPath)));
  });
  afterAll(async () => { await lab?.destroy(); });
  // A test that failed with a hostnic paused: let it go, so the next test does not wait behind its locks.
  afterEach(() => { if (lab) resume(lab.stateDir); });

  it('eight attaches of one NIC into eight containers at once: exactly one wins, seven exit 2 naming where it went', async () => {
    const results = await Promise.all(ctrs.map((c, k) => lab.hostnic(['attach', `pid:${c.pid}`, nic, `192.168.1.${40 + k}/24@192.168.1.1`])));
    const winners = results.flatMap((r, k) => (r.exitCode === 0 ? [k] : []));
    expect(winners, results.map((r) => r.stderr).join('')).toHaveLength(1);
    const w = winners[0]!;
    const winner = ctrs[w]!;
    expect(results[w]!.stdout).toMatch(new RegExp(`\nattached ${nic} to pid:${winner.pid} as eth1 \\(192\\.168\\.1\\.${40 + w}/24\\)\n$`));
    results.forEach((r, k) => {
      if (k === w) return;
      const label = `loser ${k}`;
      expect.soft(r.exitCode, `${label}: ${r.stderr}`).toBe(2);
      expect.soft(r.stdout, label).toBe('');
      expectOneError(r, label, new RegExp(`^hostnic: ${nic} is already attached to pid:${winner.pid} as eth1$`));
    });

    // Nothing half-done: the NIC in exactly one container, the host otherwise as it was, no journal left.
    const host = comparable(await lab.snapshot(lab.host));
    const expected = comparable(hostBefore);
    expect(host.links.map((l) => l.ifname)).toEqual(expected.links.map((l) => l.ifname).filter((n) => n !== nic));
    expect(host).toEqual(withoutLink(hostBefore, nic));
    for (const [k, c] of ctrs.entries()) {
      const names = (await lab.snapshot(c.nsPath)).links.map((l) => l.ifname);
      if (k === w) expect(names).toContain('eth1');
      else expect.soft(comparable(await lab.snapshot(c.nsPath)), `container ${k}`).toEqual(comparable(ctrsBefore[k]!));
    }
    expect(journalFiles(lab)).toEqual([]);
    expect(attachmentFiles(lab)).toHaveLength(1);
    // Every lock let go, and its file removed with it.
    expect(lockFiles(lab)).toEqual([]);

    const d = await lab.hostnic(['detach', `pid:${winner.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(winner.nsPath))).toEqual(comparable(ctrsBefore[w]!));
  });

  it('per NIC: an attach of another NIC into another container runs to the end while the first one sits paused holding its locks', async () => {
    const first = await startPaused(lab, ['attach', `pid:${ctrs[0]!.pid}`, nic, '192.168.1.50/24'], 'before:1');
    const ns0 = `ns:${(await run(['stat', '-L', '-c', '%d:%i', ctrs[0]!.nsPath])).stdout.trim()}`;
    // It holds the NIC (by name and by MAC) and the container's namespace.
    const held = await locksHeld(lab);
    expect(held).toContain(lockFile(lab, nic));
    expect(held).toContain(lockFile(lab, ns0));
    expect(held).toHaveLength(3);
    const second = await lab.hostnic(['attach', `pid:${ctrs[1]!.pid}`, 'spare1', '192.168.1.51/24']);
    expect(second.exitCode, second.stderr).toBe(0);
    // Done while the first is still paused half-way: its journal is still there, its NIC in neither container yet.
    expect(journalFiles(lab)).toHaveLength(1);
    const inCtr1 = (await lab.snapshot(ctrs[1]!.nsPath));
    expect(inCtr1.links.find((l) => l.ifname === 'eth1')?.ifalias).toMatch(/\/n=spare1\//);
    expect(inCtr1.links.find((l) => l.ifname === 'eth1')?.addrs.map((x) => `${x.local}/${x.prefixlen}`)).toContain('192.168.1.51/24');
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).toContain(nic);
    expect((await lab.snapshot(ctrs[0]!.nsPath)).links.map((l) => l.ifname)).not.toContain('eth1');
    resume(lab.stateDir);
    const a = await waitForExit(first);
    expect(a.exitCode, a.stderr).toBe(0);
    // Both in place.
    const inCtr0 = await lab.snapshot(ctrs[0]!.nsPath);
    expect(inCtr0.links.find((l) => l.ifname === 'eth1')?.addrs.map((x) => `${x.local}/${x.prefixlen}`)).toContain('192.168.1.50/24');
    expect((await lab.snapshot(ctrs[1]!.nsPath)).links.map((l) => l.ifname)).toContain('eth1');
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).not.toContain(nic);
    expect(attachmentFiles(lab)).toHaveLength(2);
    expect(journalFiles(lab)).toEqual([]);
    expect(lockFiles(lab)).toEqual([]);
    expect((await lab.hostnic(['detach', `pid:${ctrs[0]!.pid}`])).exitCode).toBe(0);
    expect((await lab.hostnic(['detach', `pid:${ctrs[1]!.pid}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctrs[0]!.nsPath))).toEqual(comparable(ctrsBefore[0]!));
    expect(comparable(await lab.snapshot(ctrs[1]!.nsPath))).toEqual(comparable(ctrsBefore[1]!));
  });

  it('the same NIC, or the same container, waits: one attach of that NIC and one of another NIC into that container queue behind the paused one', async () => {
    const first = await startPaused(lab, ['attach', `pid:${ctrs[0]!.pid}`, nic, '192.168.1.50/24'], 'before:0');
    const sameNic = lab.spawnHostnic(['attach', `pid:${ctrs[1]!.pid}`, nic, '192.168.1.51/24']);
    const sameCtr = lab.spawnHostnic(['attach', `pid:${ctrs[0]!.pid}`, 'spare1', '192.168.1.52/24']);
    await waitQueued(sameNic.pid!);
    await waitQueued(sameCtr.pid!);
    expect(journalFiles(lab)).toHaveLength(1); // only the first one's
    resume(lab.stateDir);
    const [a, b, c] = await Promise.all([waitForExit(first), waitForExit(sameNic), waitForExit(sameCtr)]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(2);
    expectOneError(b, 'same NIC', new RegExp(`^hostnic: ${nic} is already attached to pid:${ctrs[0]!.pid} as eth1$`));
    // It chose its name after the first one was done: eth1 was taken by then.
    expect(c.exitCode, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/as eth2 \(192\.168\.1\.52\/24\)\n$/);
    expect(attachmentFiles(lab)).toHaveLength(2);
    expect(comparable(await lab.snapshot(ctrs[1]!.nsPath))).toEqual(comparable(ctrsBefore[1]!));
    expect((await lab.hostnic(['detach', `pid:${ctrs[0]!.pid}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctrs[0]!.nsPath))).toEqual(comparable(ctrsBefore[0]!));
  });

  it('a holder killed with SIGKILL frees the lock: the hostnic queued behind it proceeds (and recover cleans up)', async () => {
    const holder = await startPaused(lab, ['attach', `pid:${ctrs[2]!.pid}`, nic, '192.168.1.52/24'], 'after:1');
    const queued = lab.spawnHostnic(['recover']);
    await waitQueued(queued.pid!);
    await crash(holder);
    const r = await waitForExit(queued);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rolled back: Attach /m);
    expect(await locksHeld(lab)).toEqual([]);
    expect(journalFiles(lab)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctrs[2]!.nsPath))).toEqual(comparable(ctrsBefore[2]!));
  });

  it('the lock is not inherited by the commands hostnic runs (a leftover child cannot keep it)', async () => {
    const holder = await startPaused(lab, ['attach', `pid:${ctrs[3]!.pid}`, nic, '192.168.1.53/24'], 'before:2');
    // Which processes have the lock files open? Only hostnic itself.
    const files = lockFiles(lab);
    expect(files).toHaveLength(3);
    const openers = new Set<number>();
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        for (const fd of readdirSync(`/proc/${e}/fd`)) {
          try { if (files.includes(readlinkSync(`/proc/${e}/fd/${fd}`))) openers.add(Number(e)); } catch { /* closed */ }
        }
      } catch { /* gone */ }
    }
    expect([...openers]).toEqual([holder.pid]);
    await crash(holder);
    expect(await locksHeld(lab)).toEqual([]);
    expect((await lab.hostnic(['recover'])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });
});
