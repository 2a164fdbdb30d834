/**
 * Refusals and identity (issue 12, sections 2 and 5): an unsafe or unusable
 * state directory, a `mac:` that matches two NICs, a namespace file of the
 * wrong type. Each case exits 2 with one clear line, and changes nothing:
 * not the host, not the directory's mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, must, requireRoot, waitForExit, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, linkIn, resume } from '../helpers/hostnic.js';
import { attachmentFiles, expectOneError, journalFiles, startPaused } from './reliability-helpers.js';

const root = requireRoot();
const modeOf = (p: string): number => lstatSync(p).mode & 0o7777;

describe.skipIf(!root)('refusals: state directory, ambiguous NIC, namespace type', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let base: string;

  beforeAll(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ addrs: ['10.50.0.9/24'] });
    ctr = await lab.addContainer();
    hostBefore = await lab.snapshot(lab.host);
    base = join(lab.stateDir, 'dirs');
    mkdirSync(base, { mode: 0o700 });
  });
  afterAll(async () => { await lab?.destroy(); });

  const attach = (stateDir: string) => lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.40/24'], { env: { HOSTNIC_STATE_DIR: stateDir } });

  it('an unsafe state directory is refused (exit 2) and never chmod-ed', async () => {
    const good = join(base, 'good');
    mkdirSync(good, { mode: 0o700 });
    const link = join(base, 'link');
    symlinkSync(good, link);
    const tmpLike = join(base, 'tmp-like');
    mkdirSync(tmpLike);
    chmodSync(tmpLike, 0o1777);
    const groupW = join(base, 'group-writable');
    mkdirSync(groupW);
    chmodSync(groupW, 0o770);
    const foreign = join(base, 'foreign');
    mkdirSync(foreign, { mode: 0o700 });
    chownSync(foreign, 65534, 65534);
    // A subdirectory made group-writable under a good state directory.
    const sub = join(base, 'loose-sub');
    mkdirSync(join(sub, 'journal'), { recursive: true, mode: 0o700 });
    chmodSync(sub, 0o700);
    chmodSync(join(sub, 'journal'), 0o775);
    const cases: [string, string, RegExp][] = [
      ['a symlink to a good directory', link, /is a symbolic link/],
      ['a world-writable directory like /tmp', tmpLike, /is writable by (its group|others) \(mode 1777\)/],
      ['a group-writable directory', groupW, /is writable by its group \(mode 0770\)/],
      ['a directory another user owns', foreign, /is owned by uid 65534, not root/],
      ['a group-writable journal directory', sub, /journal is writable by its group/],
    ];
    const modes = [good, tmpLike, groupW, foreign, join(sub, 'journal')].map(modeOf);
    for (const [what, dir, pattern] of cases) {
      const r = await attach(dir);
      expect.soft(r.exitCode, `${what}: ${r.stderr}`).toBe(2);
      expectOneError(r, what, pattern);
      expect.soft(r.stderr, what).toMatch(/^hostnic: state directory .* refusing to use it$/m);
    }
    expect([good, tmpLike, groupW, foreign, join(sub, 'journal')].map(modeOf)).toEqual(modes);
    expect(readdirSync(good)).toEqual([]);
    expect(readdirSync(tmpLike)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('a state directory that is a file, under a file, or read-only: exit 2 with a clear message', async () => {
    const file = join(base, 'a-file');
    writeFileSync(file, 'x', { mode: 0o600 });
    const ro = join(base, 'read-only');
    mkdirSync(ro, { mode: 0o700 });
    await must(['mount', '-t', 'tmpfs', '-o', 'ro,mode=0700', 'tmpfs', ro]);
    try {
      const cases: [string, string, RegExp][] = [
        ['a file', file, /is not a directory/],
        ['under a file', join(file, 'hostnic'), /is under a file/],
        ['read-only', ro, /is on a read-only file system/],
        ['missing, on a read-only file system', join(ro, 'hostnic'), /cannot be created: the file system is read-only/],
      ];
      for (const [what, dir, pattern] of cases) {
        const r = await attach(dir);
        expect.soft(r.exitCode, `${what}: ${r.stderr}`).toBe(2);
        expectOneError(r, what, pattern);
        expect.soft(r.stderr, what).not.toMatch(/internal error/);
      }
    } finally {
      await must(['umount', ro]);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('an existing 0755 directory is used as it is; missing ones are made 0700', async () => {
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o755);
    const a = await attach(open);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(modeOf(open)).toBe(0o755);
    expect(modeOf(join(open, 'journal'))).toBe(0o700);
    expect(modeOf(join(open, 'attachments'))).toBe(0o700);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`], { env: { HOSTNIC_STATE_DIR: open } });
    expect(d.exitCode, d.stderr).toBe(0);
    expect(modeOf(open)).toBe(0o755);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('mac: that matches two NICs: exit 2, "ambiguous", naming both; nothing moves', async () => {
    const mac = '02:00:00:00:0c:01';
    const a = await lab.addNic({ mac });
    const b = await lab.addNic({ mac });
    const before = await lab.snapshot(lab.host);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, `mac:${mac}`, '192.168.1.41/24']);
    expect(r.exitCode, r.stderr).toBe(2);
    expectOneError(r, 'ambiguous mac', new RegExp(`mac:${mac} is ambiguous: it matches 2 NICs \\(${a}, ${b}\\)`));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    await lab.inNs(lab.host, ['ip', 'link', 'del', a]);
    await lab.inNs(lab.host, ['ip', 'link', 'del', b]);
  });

  it('a namespace file of the wrong type: exit 2 naming its type, not "internal error"', async () => {
    const cases: [string, string, RegExp][] = [
      ['a mount namespace', `/proc/${ctr.pid}/ns/mnt`, new RegExp(`/proc/${ctr.pid}/ns/mnt is a mnt namespace, not a network namespace`)],
      ['a UTS namespace', `/proc/${ctr.pid}/ns/uts`, /is a uts namespace, not a network namespace/],
      ['not a namespace at all', '/etc/hostname', /\/etc\/hostname is not a network namespace/],
    ];
    for (const [what, path, pattern] of cases) {
      const r = await lab.hostnic(['attach', path, nic, '192.168.1.42/24']);
      expect.soft(r.exitCode, `${what}: ${r.stderr}`).toBe(2);
      expectOneError(r, what, pattern);
    }
    // A bind mount of a UTS namespace (as `ip netns add` makes of a network one): its type comes from mountinfo.
    const bind = join(lab.stateDir, 'utsns-bind');
    writeFileSync(bind, '');
    await must(['mount', '--bind', `/proc/${ctr.pid}/ns/uts`, bind]);
    try {
      const r = await lab.hostnic(['attach', bind, nic, '192.168.1.42/24']);
      expect(r.exitCode, r.stderr).toBe(2);
      expectOneError(r, 'bind-mounted uts namespace', new RegExp(`${bind} is a uts namespace, not a network namespace`));
    } finally {
      await must(['umount', bind]);
      rmSync(bind);
    }
    // And a bind-mounted network namespace, by its path, still works.
    const ns = await lab.addNetns();
    const a = await lab.hostnic(['attach', `/run/netns/${ns}`, nic, '192.168.1.43/24']);
    expect(a.exitCode, a.stderr).toBe(0);
    const d = await lab.hostnic(['detach', `/run/netns/${ns}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('a NIC deleted and another created under its name between the plan and the move: the stranger is left alone, never given the MAC', async () => {
    const name = 'swap0';
    const mac = '02:00:00:00:0d:01';
    for (const [what, strangerMac] of [['another MAC', '02:00:00:00:0d:02'], ['the same MAC, another ifindex', mac]] as const) {
      await lab.inNs(lab.host, ['ip', 'link', 'add', name, 'address', mac, 'type', 'veth', 'peer', 'name', 'swap0p']);
      await lab.inNs(lab.host, ['ip', 'link', 'set', 'dev', name, 'up']);
      const ctrBefore = await lab.snapshot(ctr.nsPath);
      // Step 0 is the first change to the NIC (bring it down); the move comes after.
      const child = await startPaused(lab, ['attach', `pid:${ctr.pid}`, name, '192.168.1.44/24'], 'before:0');
      await lab.inNs(lab.host, ['ip', 'link', 'del', name]);
      await lab.inNs(lab.host, ['ip', 'link', 'add', name, 'address', strangerMac, 'type', 'veth', 'peer', 'name', 'swap0p']);
      await lab.inNs(lab.host, ['ip', 'link', 'set', 'dev', name, 'up']);
      const stranger = linkIn(await lab.snapshot(lab.host), name);
      resume(lab.stateDir);
      const r = await waitForExit(child);
      expect.soft(r.exitCode, `${what}: ${r.stderr}`).toBe(1);
      expect.soft(r.stderr, what).toMatch(new RegExp(`^hostnic: ${name} is not the NIC this plan was made for \\(it had MAC ${mac}, ifindex \\d+; the link now named ${name} has MAC ${strangerMac}, ifindex ${stranger.ifindex}\\)`, 'm'));
      // The stranger is where it was, as it was: not moved, not downed, not renamed, not given the MAC.
      expect(linkIn(await lab.snapshot(lab.host), name)).toEqual(stranger);
      expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
      expect(journalFiles(lab)).toEqual([]);
      expect(attachmentFiles(lab)).toEqual([]);
      await lab.inNs(lab.host, ['ip', 'link', 'del', name]);
    }
  });
});
