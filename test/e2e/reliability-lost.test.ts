/**
 * Lost containers and stuck NICs: a container that dies while it holds a
 * NIC, and a container whose namespace outlives it because something else
 * holds it (a bind mount, a process): `status` must say which, and name the
 * holders; hostnic itself must never be one of them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { createLab, requireRoot, run, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, withoutLink } from '../helpers/hostnic.js';
import { attachmentFiles, journalFiles, netnsExists, nsInode, referencesTo } from './reliability-helpers.js';

const root = requireRoot();

interface StatusDoc {
  attachments: { id: string; nic: string; status: string; where: string; detail: string; liveName?: string;
    holders?: { pids: { pid: number; comm: string }[]; fds: unknown[]; mounts: string[] } }[];
  unreadable: { file: string; error: string }[];
}

describe.skipIf(!root)('lost containers and stuck NICs', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  const extra: ChildProcess[] = [];
  const heldNames: string[] = [];

  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ addrs: ['10.50.0.5/24'], mtu: 1470, alias: 'lost' });
    ctr = await lab.addContainer();
    hostBefore = await lab.snapshot(lab.host);
  });
  afterEach(async () => {
    for (const c of extra.splice(0)) c.kill('SIGKILL');
    for (const n of heldNames.splice(0)) await run(['ip', 'netns', 'delete', n]);
    await lab.destroy();
  });

  const status = async (): Promise<StatusDoc> => {
    const r = await lab.hostnic(['status', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as StatusDoc;
  };

  /** The only references to the container's namespace are the container's own process. */
  function expectOnlyContainerHoldsIt(ino: number, label: string): void {
    const refs = referencesTo(ino);
    expect(refs, label).toEqual({ pids: [ctr.pid], mounts: [], names: [] });
  }

  it('hostnic leaves no reference to the container namespace (no bind mount, no /run/netns name) after attach and after detach', async () => {
    const ino = nsInode(ctr.nsPath);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.60/24'])).exitCode).toBe(0);
    expectOnlyContainerHoldsIt(ino, 'after attach');
    // Its private namespace is gone too (only this plan's: other hostnic runs may share the machine).
    const [record] = attachmentFiles(lab);
    expect(netnsExists(`hostnic-${record!.replace(/\.json$/, '')}`)).toBe(false);
    expect((await lab.hostnic(['status'])).exitCode).toBe(0);
    expectOnlyContainerHoldsIt(ino, 'after status');
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
    expectOnlyContainerHoldsIt(ino, 'after detach');
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('a container killed while it holds a virtual NIC: the veth dies with it, status says so, detach cleans the record', async () => {
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.61/24'])).exitCode).toBe(0);
    const peer = lab.peerOf(nic);
    await ctr.kill();
    // Nothing kept the namespace (hostnic least of all): the pair goes on both ends (the kernel cleans a
    // dead namespace up asynchronously, so poll).
    const deadline = Date.now() + 10_000;
    while ((await lab.inNs(lab.cloud, ['ip', 'link', 'show', 'dev', peer])).exitCode === 0) {
      if (Date.now() > deadline) throw new Error(`${peer} outlived the container's namespace`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = await status();
    expect(s.attachments).toEqual([expect.objectContaining({ nic, status: 'target gone', where: 'gone' })]);
    expect(s.attachments[0]!.detail).toBe('the namespace is gone and the veth NIC was destroyed with it');
    expect(s.attachments[0]!.holders).toBeUndefined();
    const text = await lab.hostnic(['status']);
    expect(text.stdout).toMatch(new RegExp(`pid:${ctr.pid} +${nic} +eth1 .*target gone +\\(the namespace is gone and the veth NIC was destroyed with it\\)`));

    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stdout).toMatch(new RegExp(`(^|\n)${nic}: the namespace is gone and the veth NIC was destroyed with it; record removed\n$`));
    expect(attachmentFiles(lab)).toEqual([]);
    expect(journalFiles(lab)).toEqual([]);
    const host = comparable(await lab.snapshot(lab.host));
    expect(host.links.map((l) => l.ifname)).toEqual(comparable(hostBefore).links.map((l) => l.ifname).filter((n) => n !== nic));
    expect(host).toEqual(withoutLink(hostBefore, nic));
  });

  it('a namespace held alive by a bind mount and a process after the container died: the NIC lives on, status names the holders, detach brings it home through them', async () => {
    const attached = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.62/24@192.168.1.1']);
    expect(attached.exitCode, attached.stderr).toBe(0);
    const ino = nsInode(ctr.nsPath);
    // Someone (not hostnic) pins the namespace: a bind mount, and a process that joined it.
    const held = `hn-held-${lab.id}`;
    heldNames.push(held);
    expect((await run(['touch', `/run/netns/${held}`])).exitCode).toBe(0);
    const m = await run(['mount', '--bind', ctr.nsPath, `/run/netns/${held}`]);
    expect(m.exitCode, m.stderr).toBe(0);
    const sleeper = spawn('nsenter', [`--net=${ctr.nsPath}`, '--', 'sleep', 'infinity'], { stdio: 'ignore', detached: true });
    extra.push(sleeper);
    await waitUntil(() => readlinkOr(`/proc/${sleeper.pid}/ns/net`) === `net:[${ino}]`);
    await ctr.kill();
    expect(existsSync(`/proc/${ctr.pid}`)).toBe(false);

    // The namespace lives on, and the veth with it (its cloud-side peer is still there).
    expect((await lab.inNs(lab.cloud, ['ip', 'link', 'show', 'dev', lab.peerOf(nic)])).exitCode).toBe(0);
    expect((await lab.inNs(`/run/netns/${held}`, ['ip', 'link', 'show', 'dev', 'eth1'])).exitCode).toBe(0);

    const s = await status();
    expect(s.attachments).toHaveLength(1);
    const a = s.attachments[0]!;
    expect(a).toMatchObject({ nic, status: 'target gone', where: 'held', liveName: 'eth1' });
    expect(a.holders!.mounts).toEqual([`/run/netns/${held}`]);
    expect(a.holders!.pids).toEqual([{ pid: sleeper.pid, comm: 'sleep' }]);
    expect(a.detail).toContain(`bind mount /run/netns/${held}`);
    expect(a.detail).toContain(`process ${sleeper.pid} (sleep)`);
    expect(a.detail).toMatch(/the NIC is still inside as eth1/);
    const text = await lab.hostnic(['status']);
    expect(text.stdout).toContain(`bind mount /run/netns/${held}`);

    // detach reaches the namespace through a holder and gives the NIC back exactly as it was.
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(attachmentFiles(lab)).toEqual([]);
    expect((await lab.inNs(`/run/netns/${held}`, ['ip', 'link', 'show', 'dev', 'eth1'])).exitCode).not.toBe(0);
    // hostnic added no holder of its own on the way.
    expect(referencesTo(ino)).toEqual({ pids: [sleeper.pid], mounts: [`/run/netns/${held}`], names: [held] });
  });

  it('a namespace held only by a bind mount: detach through the mount path works too', async () => {
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.63/24'])).exitCode).toBe(0);
    const held = `hn-held-${lab.id}`;
    heldNames.push(held);
    expect((await run(['touch', `/run/netns/${held}`])).exitCode).toBe(0);
    expect((await run(['mount', '--bind', ctr.nsPath, `/run/netns/${held}`])).exitCode).toBe(0);
    await ctr.kill();
    const s = await status();
    expect(s.attachments[0]).toMatchObject({ status: 'target gone', where: 'held', holders: { pids: [], fds: [], mounts: [`/run/netns/${held}`] } });
    const d = await lab.hostnic(['detach', `netns:${held}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(attachmentFiles(lab)).toEqual([]);
  });
});

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

async function waitUntil(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition never became true');
    await new Promise((r) => setTimeout(r, 10));
  }
}
