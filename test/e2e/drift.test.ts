/**
 * Drift made by people (issue 12, section 6): a default route changed by hand
 * inside the container after attach. Detach gives the NIC back and leaves
 * what the person did, saying so, instead of failing with "File exists" on
 * every retry. And `doctor --undo` after a sysctl or a file the fix set was
 * changed by hand: left as it is and said so, unless --force.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, mustInNs, requireRoot, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, giveDefaultRoute, routesVia } from '../helpers/hostnic.js';
import { attachmentFiles, journalFiles } from './reliability-helpers.js';

const root = requireRoot();

describe.skipIf(!root)('a container default route changed by hand after attach', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;

  beforeAll(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ addrs: ['10.50.0.9/24'] });
    ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr); // eth0, default via 172.31.0.1
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
  });
  afterAll(async () => { await lab?.destroy(); });

  const attach = async (): Promise<void> => {
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.5/24@192.168.1.1']);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(routesVia((await lab.snapshot(ctr.nsPath)).routes4, 'default')).toEqual([{ gateway: '192.168.1.1', dev: 'eth1' }]);
  };
  const byHand = async (...argv: string[][]): Promise<void> => {
    for (const a of argv) {
      const r = await lab.inNs(ctr.nsPath, a);
      expect(r.exitCode, `${a.join(' ')}: ${r.stderr}`).toBe(0);
    }
  };
  const nicHome = async (): Promise<void> => {
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(journalFiles(lab)).toEqual([]);
    expect(attachmentFiles(lab)).toEqual([]);
  };

  it('replaced by another: detach succeeds, leaves it, and says so', async () => {
    await attach();
    await byHand(['ip', 'route', 'replace', 'default', 'via', '172.31.0.254', 'dev', 'eth0']);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/^hostnic: note: the container's IPv4 default route was changed after attach \(now: via 172\.31\.0\.254 dev eth0; hostnic set: via 192\.168\.1\.1 dev eth1\): left as it is, the previous one \(via 172\.31\.0\.1 dev eth0\) not put back$/m);
    await nicHome();
    expect(routesVia((await lab.snapshot(ctr.nsPath)).routes4, 'default')).toEqual([{ gateway: '172.31.0.254', dev: 'eth0' }]);
    await byHand(['ip', 'route', 'replace', 'default', 'via', '172.31.0.1', 'dev', 'eth0']);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('deleted: detach succeeds and does not put the old one back (also in --json)', async () => {
    await attach();
    await byHand(['ip', 'route', 'del', 'default']);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--json']);
    expect(d.exitCode, d.stderr).toBe(0);
    const doc = JSON.parse(d.stdout) as { detached: { leftAlone?: string[] }[] };
    expect(doc.detached[0]!.leftAlone).toEqual([expect.stringMatching(/IPv4 default route was changed after attach \(now: none; /)]);
    await nicHome();
    expect(routesVia((await lab.snapshot(ctr.nsPath)).routes4, 'default')).toEqual([]);
    await byHand(['ip', 'route', 'add', 'default', 'via', '172.31.0.1', 'dev', 'eth0']);
  });

  it('another added beside it: detach leaves that one alone and adds nothing', async () => {
    await attach();
    await byHand(['ip', 'route', 'add', 'default', 'via', '172.31.0.254', 'dev', 'eth0', 'metric', '100']);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/^hostnic: note: the container's IPv4 default route was changed after attach/m);
    await nicHome();
    const defaults = (await lab.snapshot(ctr.nsPath)).routes4.filter((r) => r.dst === 'default');
    expect(defaults.map((r) => [r.gateway, r.dev, r.metric])).toEqual([['172.31.0.254', 'eth0', 100]]);
    await byHand(['ip', 'route', 'del', 'default', 'via', '172.31.0.254', 'dev', 'eth0', 'metric', '100'],
      ['ip', 'route', 'add', 'default', 'via', '172.31.0.1', 'dev', 'eth0']);
  });

  it('untouched: the previous default route comes back exactly, with nothing said', async () => {
    await attach();
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toBe('');
    await nicHome();
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });
});

describe.skipIf(!root)('doctor --undo after the fixed settings were changed by hand', () => {
  let lab: Lab;
  let etc: string;
  let file: string;
  let before: Snapshot;

  beforeAll(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    etc = await mkdtemp(join(tmpdir(), 'hostnic-etc-'));
    file = join(etc, 'etc', 'sysctl.d', '90-hostnic.conf');
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    before = comparable(await lab.snapshot(lab.host));
  });
  afterAll(async () => {
    await lab?.destroy();
    await rm(etc, { recursive: true, force: true });
  });

  const doctor = (args: string[]) => lab.hostnic(['doctor', ...args], { env: { HOSTNIC_CONFIG_ROOT: etc } });
  const sysctl = async (key: string) => (await mustInNs(lab.host, ['sysctl', '-n', key])).trim();
  const setSysctl = (key: string, v: string) => mustInNs(lab.host, ['sysctl', '-qw', `${key}=${v}`]);
  const records = () => (existsSync(join(lab.stateDir, 'doctor')) ? readdirSync(join(lab.stateDir, 'doctor')) : []);
  const fix = async () => {
    const f = await doctor(['--fix']);
    expect(f.exitCode, f.stdout + f.stderr).toBe(0);
    expect([await sysctl('net.ipv4.conf.all.arp_ignore'), await sysctl('net.ipv4.conf.all.arp_announce')]).toEqual(['1', '2']);
  };

  it('leaves a sysctl and a file changed since the fix, says so, and undoes the rest', async () => {
    await fix();
    await setSysctl('net.ipv4.conf.all.arp_ignore', '2');
    await appendFile(file, 'net.ipv4.conf.all.arp_ignore = 2 # by hand\n');
    const edited = await readFile(file, 'utf8');
    const u = await doctor(['--undo']);
    expect(u.exitCode, u.stdout + u.stderr).toBe(0);
    expect(u.stderr).toContain('hostnic: note: net.ipv4.conf.all.arp_ignore is 2 now, not the 1 hostnic set: left as it is (--undo --force puts it back)\n');
    expect(u.stderr).toContain(`hostnic: note: ${file} was edited after hostnic wrote it: left as it is (--undo --force puts it back)\n`);
    expect(await sysctl('net.ipv4.conf.all.arp_ignore')).toBe('2'); // the person's value
    expect(await sysctl('net.ipv4.conf.all.arp_announce')).toBe('0'); // untouched since the fix: undone
    expect(await readFile(file, 'utf8')).toBe(edited);
    expect(records()).toEqual([]);
    // Back to the start for the next case.
    await setSysctl('net.ipv4.conf.all.arp_ignore', '0');
    await rm(join(etc, 'etc'), { recursive: true });
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
  });

  it('a file removed by hand is left removed; --json says what was left', async () => {
    await fix();
    await rm(file);
    const u = await doctor(['--undo', '--json']);
    expect(u.exitCode, u.stdout + u.stderr).toBe(0);
    const doc = JSON.parse(u.stdout) as { leftAlone?: string[] };
    expect(doc.leftAlone).toEqual([`${file} was removed after hostnic wrote it: left as it is`]);
    expect(existsSync(file)).toBe(false);
    await rm(join(etc, 'etc'), { recursive: true });
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
  });

  it('--undo --force puts back what the fix found, over the changes', async () => {
    await fix();
    await setSysctl('net.ipv4.conf.all.arp_ignore', '2');
    await appendFile(file, '# by hand\n');
    const u = await doctor(['--undo', '--force']);
    expect(u.exitCode, u.stdout + u.stderr).toBe(0);
    expect(u.stderr).toBe('');
    expect(existsSync(join(etc, 'etc'))).toBe(false);
    expect(records()).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
    const bad = await doctor(['--force']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^hostnic: --force goes with --undo/);
  });
});
