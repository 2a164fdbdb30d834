/**
 * Concurrency: hostnic processes are serialized by flock(2) on
 * <state-dir>/lock (src/state.ts lock()). Eight attaches of one NIC started at
 * once: one wins, seven fail cleanly saying where the NIC went. A holder that
 * dies (SIGKILL) frees the lock: the kernel drops it with the descriptor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readlinkSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, requireRoot, run, waitForExit, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, resume, withoutLink } from '../helpers/hostnic.js';
import { attachmentFiles, crash, expectOneError, journalFiles, startPaused } from './reliability-helpers.js';

const root = requireRoot();

/** Is the state directory's lock free right now? (`flock --nonblock` on it, from the test.) */
async function lockFree(lab: Lab): Promise<boolean> {
  const r = await run(['flock', '--nonblock', '--exclusive', join(lab.stateDir, 'lock'), 'true']);
  return r.exitCode === 0;
}

/** Wait until `pid` has a `flock` child: it is queued on the lock. */
async function waitQueued(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid && readlinkSync(`/proc/${e}/exe`).endsWith('/flock')) return;
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
    lab = await createLab();
    nic = await lab.addNic({ addrs: ['10.50.0.4/24'], alias: 'contended' });
    await lab.addNic({ name: 'spare1' });
    ctrs = [];
    for (let k = 0; k < 8; k++) ctrs.push(await lab.addContainer());
    hostBefore = await lab.snapshot(lab.host);
    ctrsBefore = await Promise.all(ctrs.map((c) => lab.snapshot(c.nsPath)));
  });
  afterAll(async () => { await lab?.destroy(); });

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
    expect(await lockFree(lab)).toBe(true);

    const d = await lab.hostnic(['detach', `pid:${winner.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(winner.nsPath))).toEqual(comparable(ctrsBefore[w]!));
  });

  it('the lock serializes: a second hostnic waits while the first holds it, then runs', async () => {
    const first = await startPaused(lab, ['attach', `pid:${ctrs[0]!.pid}`, nic, '192.168.1.50/24'], 'before:0');
    expect(await lockFree(lab)).toBe(false);
    const second = lab.spawnHostnic(['attach', `pid:${ctrs[1]!.pid}`, 'spare1', '192.168.1.51/24']);
    await waitQueued(second.pid!);
    expect(journalFiles(lab)).toHaveLength(1); // only the first one's
    resume(lab.stateDir);
    const [a, b] = await Promise.all([waitForExit(first), waitForExit(second)]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(attachmentFiles(lab)).toHaveLength(2);
    expect((await lab.hostnic(['detach', `pid:${ctrs[0]!.pid}`])).exitCode).toBe(0);
    expect((await lab.hostnic(['detach', `pid:${ctrs[1]!.pid}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('a holder killed with SIGKILL frees the lock: the hostnic queued behind it proceeds (and recover cleans up)', async () => {
    const holder = await startPaused(lab, ['attach', `pid:${ctrs[2]!.pid}`, nic, '192.168.1.52/24'], 'after:1');
    const queued = lab.spawnHostnic(['recover']);
    await waitQueued(queued.pid!);
    await crash(holder);
    const r = await waitForExit(queued);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rolled back: Attach /m);
    expect(await lockFree(lab)).toBe(true);
    expect(journalFiles(lab)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctrs[2]!.nsPath))).toEqual(comparable(ctrsBefore[2]!));
  });

  it('the lock is not inherited by the commands hostnic runs (a leftover child cannot keep it)', async () => {
    const holder = await startPaused(lab, ['attach', `pid:${ctrs[3]!.pid}`, nic, '192.168.1.53/24'], 'before:2');
    // Which processes have the lock file open? Only hostnic itself.
    const lockPath = join(lab.stateDir, 'lock');
    const openers: number[] = [];
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        for (const fd of readdirSync(`/proc/${e}/fd`)) {
          try { if (readlinkSync(`/proc/${e}/fd/${fd}`) === lockPath) openers.push(Number(e)); } catch { /* closed */ }
        }
      } catch { /* gone */ }
    }
    expect(openers).toEqual([holder.pid]);
    await crash(holder);
    expect(await lockFree(lab)).toBe(true);
    expect((await lab.hostnic(['recover'])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });
});
