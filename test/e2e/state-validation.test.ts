/**
 * The journal and the records are input, not truth (issue 12, section 2):
 * a journal planted in the state directory, or one damaged, is checked
 * against the step schema before anything runs, reported in one line by
 * `status` and `recover`, never executed, and left for a person. The same
 * for records (`detach` refuses to run from one). A record edited by hand
 * is checked against the tag hostnic left on the NIC.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createLab, delay, nsPath, requireRoot, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { nsArgv } from '../helpers/run.js';
import { comparable, linkIn } from '../helpers/hostnic.js';
import { attachmentFiles, journalFiles } from './reliability-helpers.js';

const root = requireRoot();

describe.skipIf(!root)('journals and records that fail validation are never run', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let outside: string;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;

  beforeAll(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ mtu: 1480, addrs: ['10.61.0.6/24'], alias: 'uplink to rack 7' });
    ctr = await lab.addContainer();
    hostBefore = comparable(await lab.snapshot(lab.host));
    ctrBefore = comparable(await lab.snapshot(ctr.nsPath));
  });
  afterAll(async () => { await lab?.destroy(); });
  afterEach(() => {
    if (outside) rmSync(outside, { recursive: true, force: true });
    rmSync(join(lab.stateDir, 'journal'), { recursive: true, force: true });
  });

  async function until(ok: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !ok(); i++) await delay(10);
    expect(ok()).toBe(true);
  }

  /** A journal of the current schema, as a dead hostnic would leave it, with these steps and finalize. */
  function plant(id: string, steps: unknown[], more: Record<string, unknown> = {}, file = `${id}.json`): string {
    const dir = join(lab.stateDir, 'journal');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, file);
    const journal = {
      schema: 2, id, command: 'attach', title: 'Attach (planted)', pid: 999_999_999, startedAt: '2026-01-01T00:00:00.000Z',
      phase: 'rollback', touches: [], locks: [], finalize: {}, steps: steps.map((spec) => ({ spec, state: 'applying' })), ...more,
    };
    writeFileSync(path, JSON.stringify(journal), { mode: 0o600 });
    return path;
  }

  /** recover and status on a planted journal: refused, one line naming the file and why, the journal left in place. */
  async function refused(path: string, why: RegExp): Promise<void> {
    const r = await lab.hostnic(['recover']);
    expect(r.exitCode, r.stderr).not.toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l.includes(path));
    expect(lines, r.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(/^hostnic: not running /);
    expect(lines[0]).toMatch(why);
    expect(r.stdout).toBe('nothing to recover\n');
    expect(existsSync(path)).toBe(true);
    const s = await lab.hostnic(['status']);
    expect(s.exitCode).toBe(0);
    expect(s.stderr.split('\n').filter((l) => l.includes(path))).toEqual([expect.stringMatching(why)]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  }

  it('a journal that would make recover write a setuid file as root anywhere: refused, no file', async () => {
    outside = mkdtempSync(join(tmpdir(), 'hostnic-outside-'));
    const target = join(outside, 'x');
    // An inverse file.write: its undo is the write (install -m 4755 ... x).
    const path = plant('0badc0de', [{
      kind: 'file.write', id: 'file:x', title: 'Write x', inverse: true,
      params: { path: target, content: '#!/bin/sh\nid > /tmp/owned\n', mode: '4755' },
    }]);
    await refused(path, /steps\[0\] \(file\.write\)\.params\.path: ".*\/x" is not a file hostnic manages/);
    expect(existsSync(target)).toBe(false);

    // The same at a path hostnic does manage, with a setuid mode: refused for the mode.
    const etc = mkdtempSync(join(tmpdir(), 'hostnic-etc-'));
    try {
      const managed = join(etc, 'etc', 'sysctl.d', '90-hostnic.conf');
      plant('0badc0de', [{ kind: 'file.write', id: 'file:y', title: 'Write y', inverse: true, params: { path: managed, content: 'x\n', mode: '04755' } }]);
      const r = await lab.hostnic(['recover'], { env: { HOSTNIC_CONFIG_ROOT: etc } });
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/params\.mode: mode 04755 has a setuid, setgid or sticky bit/);
      expect(existsSync(managed)).toBe(false);
    } finally {
      rmSync(etc, { recursive: true, force: true });
    }
  });

  it('finalize paths and journal ids with ../: refused, nothing outside the state directory written or removed', async () => {
    outside = mkdtempSync(join(tmpdir(), 'hostnic-outside-'));
    const victim = join(outside, 'victim.json');
    writeFileSync(victim, '{"keep":true}\n');
    const rel = (p: string): string => join('..', '..', '..', '..', '..', '..', '..', '..', p);
    // Every step done, phase apply: recover would only "complete" it (finalize).
    const a = plant('0000000a', [], { phase: 'apply', finalize: { write: [{ path: rel(join(outside, 'planted.json')), value: { id: 'x' } }], remove: [rel(victim)] } });
    await refused(a, /finalize\.write\[0\]\.path: ".*" is not a record in the state directory/);
    rmSync(a);
    const b = plant('0000000b', [], { phase: 'apply', finalize: { remove: [rel(victim)] } });
    await refused(b, /finalize\.remove\[0\]: ".*" is not a record in the state directory/);
    rmSync(b);
    // The journal's id names the file recover removes once done.
    const c = plant(rel(join(outside, 'victim')), [], { phase: 'apply' }, '0000000c.json');
    await refused(c, /id: ".*victim" is not a hex id/);
    expect(readFileSync(victim, 'utf8')).toBe('{"keep":true}\n');
    expect(readdirSync(outside)).toEqual(['victim.json']);
  });

  it('an unknown kind, or a param of the wrong type: refused with a one-line reason, nothing run', async () => {
    const a = plant('0000000d', [{ kind: 'shell.run', id: 'x', title: 'Run', params: { argv: ['touch', '/tmp/owned'] } }]);
    await refused(a, /steps\[0\]\.kind: unknown step kind "shell\.run"/);
    rmSync(a);
    // The MTU as text: `ip link set ... mtu 9000 up` would run in the rollback.
    const b = plant('0000000e', [{
      kind: 'link.set', id: 'rename', title: 'Rename', params: { ns: null, from: { name: nic, mtu: '9000 up' }, to: { name: 'eth9' } },
    }]);
    await refused(b, /steps\[0\] \(link\.set\)\.params\.from\.mtu: not a whole number in 1\.\.65536/);
    rmSync(b);
    // A route argument that is not one (a newline would start another `ip -batch` line).
    const c = plant('0000000f', [{
      kind: 'route.add', id: 'host.routes4', title: 'Routes', inverse: true, params: { ns: null, family: 4, routes: [['10.9.0.0/16', 'dev', `${nic}\nlink del ${nic}`]] },
    }]);
    await refused(c, /steps\[0\] \(route\.add\)\.params\.routes\[0\]\[2\]: holds a control character/);
    expect(linkIn(comparable(await lab.snapshot(lab.host)), nic).mtu).toBe(1480);
  });

  it('the journals hostnic writes itself pass: a killed attach is recovered', async () => {
    const { crash } = await import('./reliability-helpers.js');
    const { pausedAt } = await import('../helpers/hostnic.js');
    const child = lab.spawnHostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.7.4/24'], { env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_PAUSE: 'after:4' } });
    await pausedAt(lab.stateDir, 'after:4');
    await crash(child);
    expect(journalFiles(lab)).toHaveLength(1);
    const r = await lab.hostnic(['recover']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^rolled back: Attach /m);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  });

  it("a journal's container pid now names another namespace (the pid was reused): recover never acts there", async () => {
    // A process in the lab's host namespace, standing in for whatever got the dead container's pid.
    const [cmd, ...args] = nsArgv(lab.host, ['sleep', '300']);
    const squatter = spawn(cmd!, args, { stdio: 'ignore' });
    try {
      const hostNs = statSync(nsPath(lab.host)).ino;
      await until(() => statSync(`/proc/${squatter.pid}/ns/net`, { throwIfNoEntry: false })?.ino === hostNs);
      const st = statSync(ctr.nsPath);
      // The plan locked the container's namespace; its address step names the namespace by the pid.
      const path = plant('0000a11e', [{
        kind: 'addr.add', id: 'ctr.addrs', title: 'Add 10.61.0.6/24',
        params: { ns: `/proc/${squatter.pid}/ns/net`, dev: nic, addrs: [['10.61.0.6/24']] },
      }], { locks: [`ns:${st.dev}:${st.ino}`] });
      const r = await lab.hostnic(['recover']);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(existsSync(path)).toBe(false);
      // The undo (ip addr del 10.61.0.6/24 dev NIC) ran nowhere: the host's NIC keeps its address.
      expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    } finally {
      squatter.kill('SIGKILL');
    }
  });

  it('a NIC whose record is gone, with a tag the container rewrote: detach refuses to plan from it, nothing changes', async () => {
    const file = await attach();
    rmSync(file);
    const tag = (await lab.inNs(ctr.nsPath, ['ip', '-o', 'link', 'show', 'dev', 'eth1'])).stdout.match(/alias (\S+)/)![1]!;
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'alias', tag.replace(/id=[0-9a-f]+/, 'id=NOT-HEX')]);
    const during = { host: comparable(await lab.snapshot(lab.host)), ctr: comparable(await lab.snapshot(ctr.nsPath)) };
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(1);
    expect(d.stderr).toMatch(/^hostnic: the hostnic tag on eth1 is not one hostnic wrote: .*NOT-HEX/m);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(during.host);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(during.ctr);
    // Put back, detach brings it home (a record rebuilt from the tag).
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'eth1', 'alias', tag]);
    const ok = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    // Without its record, the host's own address is what detach could not know (it says so): put back by hand.
    expect(ok.stderr).toMatch(/addresses/);
    await lab.inNs(lab.host, ['ip', 'addr', 'add', '10.61.0.6/24', 'dev', nic]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  });

  /** Attach the NIC; returns its record's path. */
  async function attach(): Promise<string> {
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.7.5/24']);
    expect(a.exitCode, a.stderr).toBe(0);
    return join(lab.stateDir, 'attachments', attachmentFiles(lab)[0]!);
  }
  const edit = (file: string, change: (r: { input: { host: Record<string, unknown> } }) => void): string => {
    const text = readFileSync(file, 'utf8');
    const rec = JSON.parse(text) as { input: { host: Record<string, unknown> } };
    change(rec);
    writeFileSync(file, JSON.stringify(rec), { mode: 0o600 });
    return text;
  };

  it('a record that fails validation: status says so, detach refuses and changes nothing', async () => {
    const file = await attach();
    const during = { host: comparable(await lab.snapshot(lab.host)), ctr: comparable(await lab.snapshot(ctr.nsPath)) };
    // A host sysctl to restore that is not one of the NIC's: /proc/sys/kernel/core_pattern.
    const good = edit(file, (r) => {
      (r.input.host.sysctls as unknown[]).push({ key: `net/ipv4/conf/${nic}/../../../../kernel/core_pattern`, value: '|/tmp/x', defaultValue: 'core' });
    });
    const s = await lab.hostnic(['status']);
    expect(s.stderr).toMatch(new RegExp(`^hostnic: ignoring ${file}: invalid: plan step host\\.sysctl\\..* is not a per-interface sysctl`, 'm'));
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(2);
    expect(d.stderr).toMatch(new RegExp(`^hostnic: the record of eth1 \\(${nic} in the host\\) is not valid: ${file}: .*; nothing changed$`, 'm'));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(during.host);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(during.ctr);
    expect(existsSync(file)).toBe(true);
    writeFileSync(file, good, { mode: 0o600 });
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(ctrBefore);
  });

  it('a record edited by hand (host name, MTU): detach refuses with exit 2 naming the disagreement, changes nothing; put back, the NIC comes home as it was', async () => {
    const file = await attach();
    const during = { host: comparable(await lab.snapshot(lab.host)), ctr: comparable(await lab.snapshot(ctr.nsPath)) };
    const good = edit(file, (r) => {
      r.input.host.name = 'renamed0';
      r.input.host.mtu = 9000;
    });
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(2);
    expect(d.stderr).toContain(`hostnic: ${file} disagrees with the tag hostnic left on eth1: host name: the record says "renamed0", the tag "${nic}"; MTU: the record says 9000, the tag 1480; nothing changed`);
    expect(d.stderr).toMatch(/--force/);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(during.host);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(during.ctr);

    writeFileSync(file, good, { mode: 0o600 });
    const ok = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(ok.exitCode, ok.stderr).toBe(0);
    const home = comparable(await lab.snapshot(lab.host));
    expect(linkIn(home, nic).mtu).toBe(1480);
    expect(home).toEqual(hostBefore);
  });

  it('with --force, the record is followed (and the disagreement is said on stderr)', async () => {
    const file = await attach();
    edit(file, (r) => { r.input.host.mtu = 1400; });
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--force']);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toContain(`hostnic: warning: ${file} disagrees with the tag on eth1 (MTU: the record says 1400, the tag 1480): restoring what the record says (--force)`);
    expect(linkIn(comparable(await lab.snapshot(lab.host)), nic).mtu).toBe(1400);
    await lab.inNs(lab.host, ['ip', 'link', 'set', 'dev', nic, 'mtu', '1480']);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    expect(statSync(lab.stateDir).mode & 0o777).toBe(0o700);
  });
});
