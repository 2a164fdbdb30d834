/**
 * `hostnic doctor` and `hostnic nics` through the CLI, in a lab host
 * namespace, with the configuration root (HOSTNIC_CONFIG_ROOT) in a temp
 * dir so the machine's /etc is never written:
 *
 * - ARP flux: detect, --fix (one plan on the runner, recorded), --fix again
 *   (nothing to do), --undo (exact previous values, files gone), --undo
 *   again (nothing to undo), --dry-run (prints, changes nothing), a fix that
 *   fails half-way (rolled back), --fix with --undo (usage error);
 * - a real NetworkManager confined to the lab NIC: reported, fixed (nmcli
 *   says unmanaged, conf.d file written), undone;
 * - unfinished plans from the real journal: a killed attach is reported
 *   until `hostnic recover`;
 * - `nics --json` with a primary, free secondaries and an attached NIC;
 * - the Docker-overlap warning against the real dockerd.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckJson } from '../../src/commands/doctor.js';
import type { NicInfo } from '../../src/host/inventory.js';
import { ensureDocker } from '../helpers/docker.js';
import { comparable, linkIn, pausedAt } from '../helpers/hostnic.js';
import { createLab, mustInNs, requireRoot, signalGroup, waitForExit, type Lab, type RunResult } from '../helpers/lab.js';
import { startNetworkManager, type NmHandle } from '../helpers/networkmanager.js';

const root = requireRoot();

interface DoctorDoc {
  ok: boolean;
  counts: { ok: number; warn: number; fail: number };
  checks: CheckJson[];
  fixed?: { id: string; record: string; checks: string[]; steps: string[] } | null;
  before?: CheckJson[];
}

const byId = (doc: DoctorDoc, id: string): CheckJson => {
  const c = doc.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in ${doc.checks.map((x) => x.id).join(', ')}`);
  return c;
};

function json<T>(r: RunResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`not one JSON document (exit ${r.exitCode}):\n${r.stdout}\n--- stderr ---\n${r.stderr}`);
  }
}

/** The documented fields of `hostnic nics --json`, in order (README.md, "nics"). */
const NIC_FIELDS = [
  'name', 'ifindex', 'mac', 'permanentMac', 'kind', 'driver', 'bus', 'parentDev', 'pci', 'state', 'up', 'mtu', 'addresses',
  'role', 'primary', 'container', 'containerIfname', 'master', 'managedBy', 'arpIgnore', 'arpAnnounce', 'rpFilter', 'linkType', 'noArp', 'parent',
];

describe.skipIf(!root)('hostnic doctor and hostnic nics (CLI, lab namespace)', () => {
  let lab: Lab;
  let etc: string;
  let nm: NmHandle | undefined;
  let env: Record<string, string>;

  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    etc = await mkdtemp(join(tmpdir(), 'hostnic-etc-'));
    env = { HOSTNIC_CONFIG_ROOT: etc };
  });

  afterEach(async () => {
    await nm?.stop();
    nm = undefined;
    await lab.destroy();
    await rm(etc, { recursive: true, force: true });
  });

  const doctor = (args: string[], extra: Record<string, string> = {}) => lab.hostnic(['doctor', ...args], { env: { ...env, ...extra } });
  const sysctl = async (key: string) => (await mustInNs(lab.host, ['sysctl', '-n', key])).trim();
  const arp = async () => [await sysctl('net.ipv4.conf.all.arp_ignore'), await sysctl('net.ipv4.conf.all.arp_announce')];
  const records = () => {
    try {
      return readdirSync(join(lab.stateDir, 'doctor'));
    } catch {
      return [];
    }
  };
  const journals = () => {
    try {
      return readdirSync(join(lab.stateDir, 'journal'));
    } catch {
      return [];
    }
  };

  it('ARP flux: detect, --fix, --fix again, --undo, --undo again; values and the sysctl.d file asserted', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    const sysctlFile = join(etc, 'etc', 'sysctl.d', '90-hostnic.conf');
    const before = comparable(await lab.snapshot(lab.host));

    const r0 = await doctor(['--json']);
    expect(r0.exitCode, r0.stderr).toBe(1);
    const d0 = json<DoctorDoc>(r0);
    expect(d0.ok).toBe(false);
    const flux = byId(d0, 'arp-flux');
    expect(flux.verdict).toBe('fail');
    expect(flux.nics).toEqual(['uplink0', 'nic1']);
    expect(flux.fix?.automatic).toBe(true);
    expect(flux.fix?.steps.map((s) => s.kind)).toEqual(['sysctl.set', 'sysctl.set', 'file.write']);
    expect(flux.fix?.steps[0]!.commands).toEqual(['sysctl -q -w net/ipv4/conf/all/arp_ignore=1']);
    for (const id of ['privileges', 'tools', 'unfinished-plans', 'networkmanager', 'systemd-networkd', 'ifupdown', 'dhcp-client', 'netplan']) {
      expect(byId(d0, id).verdict, id).toBe('ok');
    }

    // The text report: each check with its verdict; the problem with why and fix.
    const text = await doctor([]);
    expect(text.exitCode).toBe(1);
    expect(text.stdout).toMatch(/^fail {2}arp-flux {10}ARP flux: uplink0, nic1 answer ARP/m);
    expect(text.stdout).toMatch(/^ok {4}privileges {8}Running as root/m);
    expect(text.stdout).toMatch(/^ {6}why {15}With several NICs on one network/m);
    expect(text.stdout).toMatch(/^ {6}fix {15}sysctl net\.ipv4\.conf\.all\.arp_ignore=1/m);
    expect(text.stdout).toContain('for the\n                        next boot [hostnic doctor --fix]');
    expect(text.stdout).toContain('`hostnic doctor --fix` fixes arp-flux');

    // --fix
    const r1 = await doctor(['--fix']);
    expect(r1.exitCode, r1.stdout + r1.stderr).toBe(0);
    expect(r1.stdout).toContain('Fixed arp-flux; recorded in');
    expect(r1.stdout).toMatch(/Checked again: (\d+) checks: \1 ok, 0 warn, 0 fail/);
    expect(await arp()).toEqual(['1', '2']);
    const content = await readFile(sysctlFile, 'utf8');
    expect(content).toContain('net.ipv4.conf.all.arp_ignore = 1\n');
    expect(content).toContain('net.ipv4.conf.all.arp_announce = 2\n');
    expect(content.startsWith('# Written by `hostnic doctor --fix`')).toBe(true);
    // The record: the steps with what each saved before it ran.
    const [rec] = records();
    expect(rec).toMatch(/^fix-[0-9a-f]{8}\.json$/);
    const record = JSON.parse(await readFile(join(lab.stateDir, 'doctor', rec!), 'utf8'));
    expect(record).toMatchObject({ kind: 'doctor-fix', checks: ['arp-flux'], nics: ['uplink0', 'nic1'] });
    expect(record.steps.map((s: { kind: string }) => s.kind)).toEqual(['sysctl.set', 'sysctl.set', 'file.write']);
    expect(record.saved).toEqual({
      'sysctl:net.ipv4.conf.all.arp_ignore': '0',
      'sysctl:net.ipv4.conf.all.arp_announce': '0',
      [`file:${sysctlFile}`]: { existed: false, createdDirs: [join(etc, 'etc'), join(etc, 'etc', 'sysctl.d')] },
    });
    expect(journals()).toEqual([]);

    // --fix again: nothing to do.
    const r2 = await doctor(['--fix']);
    expect(r2.exitCode).toBe(0);
    expect(r2.stdout).toContain('Nothing to fix: every check passes.');
    expect(records()).toHaveLength(1);
    const r2j = json<DoctorDoc>(await doctor(['--fix', '--json']));
    expect(r2j).toMatchObject({ ok: true, fixed: null });

    // --undo: the previous values, the file (and the directories the fix made) gone, the record gone.
    const r3 = await doctor(['--undo']);
    expect(r3.exitCode, r3.stdout + r3.stderr).toBe(0);
    expect(r3.stdout).toContain('Undone: the fix of arp-flux');
    expect(await arp()).toEqual(['0', '0']);
    expect(existsSync(sysctlFile)).toBe(false);
    expect(existsSync(join(etc, 'etc'))).toBe(false);
    expect(records()).toEqual([]);
    expect(journals()).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);

    // --undo again: nothing to undo.
    const r4 = await doctor(['--undo']);
    expect(r4.exitCode).toBe(0);
    expect(r4.stdout).toContain('Nothing to undo');
    expect(json(await doctor(['--undo', '--json']))).toEqual({ ok: true, undone: [] });

    // Usage errors: exit 2, nothing done.
    const both = await doctor(['--fix', '--undo']);
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/mutually exclusive|exclude/);
    const nope = await doctor(['nope0']);
    expect(nope.exitCode).toBe(2);
    expect(nope.stderr).toContain('no NIC named nope0 here');
    expect(await arp()).toEqual(['0', '0']);
  });

  it('--fix --dry-run prints the steps and their commands and changes nothing', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    const before = await lab.snapshot(lab.host);
    const r = await doctor(['--fix', '--dry-run']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('Fix arp-flux (dry run: 3 steps, nothing changed)');
    expect(r.stdout).toContain('sysctl -q -w net/ipv4/conf/all/arp_ignore=1');
    expect(r.stdout).toContain('sysctl -q -w net/ipv4/conf/all/arp_announce=2');
    expect(r.stdout).toContain(`mv -f -T ${join(etc, 'etc', 'sysctl.d', '.90-hostnic.conf.hostnic-tmp')} ${join(etc, 'etc', 'sysctl.d', '90-hostnic.conf')}`);
    const dj = json<{ dryRun: boolean; plan: { steps: { title: string; commands: string[] }[] } }>(await doctor(['--fix', '--dry-run', '--json']));
    expect(dj.dryRun).toBe(true);
    expect(dj.plan.steps.map((s) => s.title)).toEqual([
      'Set net.ipv4.conf.all.arp_ignore=1',
      'Set net.ipv4.conf.all.arp_announce=2',
      `Write ${join(etc, 'etc', 'sysctl.d', '90-hostnic.conf')} (arp_ignore=1, arp_announce=2 at boot)`,
    ]);
    expect(await lab.snapshot(lab.host)).toEqual(before);
    expect(await arp()).toEqual(['0', '0']);
    expect(existsSync(join(etc, 'etc'))).toBe(false);
    expect(records()).toEqual([]);
    expect(journals()).toEqual([]);
  });

  it('a fix that fails half-way is rolled back: sysctls and files as before, no record, exit 1', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1' });
    const before = await lab.snapshot(lab.host);
    // Step 2 (the sysctl.d file) fails for real after its commands ran.
    const r = await doctor(['--fix'], { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: '2' });
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('every change was rolled back');
    expect(await arp()).toEqual(['0', '0']);
    expect(existsSync(join(etc, 'etc'))).toBe(false);
    expect(records()).toEqual([]);
    expect(journals()).toEqual([]);
    expect(await lab.snapshot(lab.host)).toEqual(before);
    // Still to fix.
    expect(byId(json<DoctorDoc>(await doctor(['--json'])), 'arp-flux').verdict).toBe('fail');
  });

  it('a managed file found with a mode the undo could not restore (0666): the fix refuses before changing anything, exit 1', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1' });
    const file = join(etc, 'etc', 'sysctl.d', '90-hostnic.conf');
    mkdirSync(join(etc, 'etc', 'sysctl.d'), { recursive: true });
    writeFileSync(file, '# left by someone\n');
    chmodSync(file, 0o666);
    const before = await lab.snapshot(lab.host);
    const r = await doctor(['--fix']);
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toMatch(/cannot be kept for its undo: .*mode/);
    expect(readFileSync(file, 'utf8')).toBe('# left by someone\n');
    expect(await arp()).toEqual(['0', '0']);
    expect(records()).toEqual([]);
    expect(journals()).toEqual([]);
    expect(await lab.snapshot(lab.host)).toEqual(before);
  });

  it('an --undo that fails half-way is rolled back: the fix stays, and so does its record', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1' });
    const before = comparable(await lab.snapshot(lab.host));
    expect((await doctor(['--fix'])).exitCode).toBe(0);
    const fixed = await readFile(join(etc, 'etc', 'sysctl.d', '90-hostnic.conf'), 'utf8');
    const afterFix = comparable(await lab.snapshot(lab.host));
    // The undo plan: file first, then arp_announce, then arp_ignore; fail after arp_announce was restored.
    const r = await doctor(['--undo'], { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: '1' });
    expect(r.exitCode, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('every change was rolled back');
    expect(await arp()).toEqual(['1', '2']);
    expect(await readFile(join(etc, 'etc', 'sysctl.d', '90-hostnic.conf'), 'utf8')).toBe(fixed);
    expect(records()).toHaveLength(1);
    expect(journals()).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(afterFix);
    expect((await doctor(['--undo'])).exitCode).toBe(0);
    expect(await arp()).toEqual(['0', '0']);
    expect(records()).toEqual([]);
    expect(journals()).toEqual([]);
    expect(existsSync(join(etc, 'etc'))).toBe(false);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
  });

  it('unfinished plans come from the real journal: a killed attach fails the check until `hostnic recover`', async () => {
    await lab.addPrimary();
    const nic = await lab.addNic({ name: 'nic1' });
    const ctr = await lab.addContainer();
    const hostBefore = comparable(await lab.snapshot(lab.host));
    const child = lab.spawnHostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.40/24'], {
      env: { ...env, HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_PAUSE: 'after:0' },
    });
    // After the first step (nic1 down in the host): the NIC is still in the host for doctor to look at.
    await pausedAt(lab.stateDir, 'after:0');
    signalGroup(child, 'SIGKILL');
    await waitForExit(child);
    await rm(join(lab.stateDir, 'test-paused'), { force: true });
    const journal = journals();
    expect(journal).toHaveLength(1);

    const d = json<DoctorDoc>(await doctor(['--json']));
    const c = byId(d, 'unfinished-plans');
    expect(c.verdict).toBe('fail');
    expect(c.title).toMatch(new RegExp(`^1 unfinished plan in ${lab.stateDir}: "Attach nic1 to pid:${ctr.pid} as eth1" \\(pid \\d+, started `));
    expect(c.fix).toMatchObject({ automatic: false });
    expect(c.fix!.summary).toContain('hostnic recover');
    // --fix does not do recover's job: it says so, changes nothing, and exits 1.
    const beforeFix = comparable(await lab.snapshot(lab.host));
    const f = await doctor(['--fix', 'nic1']);
    expect(f.exitCode, f.stdout + f.stderr).toBe(1);
    expect(f.stdout).toMatch(/^fail {2}unfinished-plans/m);
    expect(f.stderr).toMatch(/^hostnic: an unfinished plan \(.*\) touches .*\nhint: run `hostnic recover`/);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(beforeFix);
    expect(records()).toEqual([]);
    // The journal is recover's to finish: --fix left it where it was.
    expect(journals()).toEqual(journal);

    expect((await lab.hostnic(['recover'], { env })).exitCode).toBe(0);
    expect(journals()).toEqual([]);
    expect(byId(json<DoctorDoc>(await doctor(['--json'])), 'unfinished-plans').verdict).toBe('ok');
    // recover undid the killed attach's first step: the whole host is as before the attach.
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  });

  it('a real NetworkManager: doctor reports the NIC managed, --fix makes nmcli say unmanaged and writes conf.d, --undo reverses both', async () => {
    await lab.addPrimary();
    const nic = await lab.addNic({ name: 'nic1' });
    nm = await startNetworkManager({ netns: lab.hostNs, devices: [nic], profiles: { [nic]: { address: '192.168.1.31/24' } } });
    await nm.waitFor(nic, (s) => s === 'connected');
    // hostnic's configuration root points at this NetworkManager's own files.
    for (const [link, target] of [
      [join(etc, 'etc', 'NetworkManager', 'NetworkManager.conf'), nm.confFile],
      [join(etc, 'etc', 'NetworkManager', 'conf.d'), nm.confDir],
      [join(etc, 'usr', 'lib', 'NetworkManager', 'conf.d'), nm.systemConfDir],
    ] as const) {
      await mkdir(dirname(link), { recursive: true });
      await symlink(target, link);
    }
    const confFile = join(nm.confDir, '90-hostnic.conf');
    const uplinkState = await nm.state('uplink0');
    expect(uplinkState).toBeDefined();
    const uplinkMac = linkIn(await lab.snapshot(lab.host), 'uplink0').address!;

    const d0 = json<DoctorDoc>(await doctor(['--json']));
    const c0 = byId(d0, 'networkmanager');
    expect(c0.verdict).toBe('fail');
    expect(c0.nics).toEqual([nic]);
    expect(c0.title).toBe(`NetworkManager manages ${nic} (connected) (uplink0 carries the default route: left alone)`);
    expect(c0.fix!.steps.map((s) => s.kind)).toEqual(['nm.managed', 'nm.reload', 'file.write', 'nm.reload']);
    expect(c0.fix!.steps[0]!.commands).toEqual([`nmcli device set ${nic} managed no`]);

    const r1 = await doctor(['--fix']);
    expect(r1.exitCode, r1.stdout + r1.stderr).toBe(0);
    expect(r1.stdout).toContain('Fixed arp-flux, networkmanager');
    expect(await nm.state(nic)).toBe('unmanaged');
    expect(await readFile(confFile, 'utf8')).toContain(`[keyfile]\nunmanaged-devices+=interface-name:${nic}\n`);
    expect(byId(json<DoctorDoc>(await doctor(['--json'])), 'networkmanager').verdict).toBe('ok');
    // NetworkManager itself was neither stopped nor told anything about uplink0.
    expect((await nm.nmcli(['-t', 'general', 'status'])).exitCode).toBe(0);
    expect(await nm.state('uplink0')).toBe(uplinkState);
    const written = await readFile(confFile, 'utf8');
    expect(written).not.toContain('uplink0');
    expect(written.toLowerCase()).not.toContain(uplinkMac.toLowerCase());

    const r2 = await doctor(['--undo']);
    expect(r2.exitCode, r2.stdout + r2.stderr).toBe(0);
    await nm.waitFor(nic, (s) => s === 'connected');
    expect(await nm.state('uplink0')).toBe(uplinkState);
    expect(existsSync(confFile)).toBe(false);
    expect(await arp()).toEqual(['0', '0']);
    expect(byId(json<DoctorDoc>(await doctor(['--json'])), 'networkmanager').verdict).toBe('fail');
  });

  it('nics --json: a primary NIC, free secondaries, and one attached to a container (with where it is)', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.21/24'] });
    await lab.addNic({ name: 'nic2' });
    await lab.addNic({ name: 'nic3', mac: '02:00:00:aa:bb:03' });
    const ctr = await lab.addContainer();
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, 'nic3', '192.168.1.43/24']);
    expect(a.exitCode, a.stderr).toBe(0);

    const r = await lab.hostnic(['nics', '--json'], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = json<NicInfo[]>(r);
    expect(Array.isArray(rows)).toBe(true);
    for (const row of rows) expect(Object.keys(row)).toEqual(NIC_FIELDS);
    expect(rows.map((n) => [n.name, n.role, n.primary, n.container])).toEqual([
      ['uplink0', 'primary', true, null],
      ['nic1', 'secondary', false, null],
      ['nic2', 'secondary', false, null],
      ['nic3', 'attached', false, `pid:${ctr.pid}`],
    ]);
    const up = rows[0]!;
    expect(up).toMatchObject({ kind: 'veth', state: 'up', up: true, mtu: 1500, arpIgnore: 0, arpAnnounce: 0, managedBy: [] });
    expect(up.addresses).toEqual(['192.168.1.250/24', 'fd00:1::250/64']);
    expect(rows[1]!.addresses).toEqual(['192.168.1.21/24']);
    expect(rows[1]!.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(rows[3]).toMatchObject({ mac: '02:00:00:aa:bb:03', containerIfname: 'eth1', addresses: ['192.168.1.43/24'], state: 'up', arpIgnore: null });

    const t = await lab.hostnic(['nics'], { env });
    expect(t.exitCode).toBe(0);
    const lines = t.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME +MAC +KIND +DRIVER +PCI +STATE +MTU +ADDRESSES +ROLE +MANAGED BY +ARP IGN\/ANN$/);
    expect(lines.find((l) => l.startsWith('uplink0'))).toMatch(/192\.168\.1\.250\/24,fd00:1::250\/64 +primary +- +0\/0$/);
    expect(lines.find((l) => l.startsWith('nic3'))).toContain(`attached to pid:${ctr.pid} as eth1`);
    expect(t.stdout).toContain('! ARP flux possible');

    // Colour (forced) marks the warnings.
    const c = await lab.hostnic(['nics'], { env: { ...env, NO_COLOR: '', FORCE_COLOR: '1' } });
    expect(c.stdout).toContain('\u001b[33m0/0\u001b[39m');
  });

  it('the Docker-overlap warning against the real dockerd: a lab NIC in 172.17.0.0/16', async () => {
    await ensureDocker();
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['172.17.250.9/16'] });
    const r = await doctor(['--json']);
    expect(r.exitCode).toBe(1);
    const c = byId(json<DoctorDoc>(r), 'docker-overlap');
    expect(c.verdict).toBe('warn');
    expect(c.nics).toEqual(['nic1']);
    expect(c.title).toContain('nic1 172.17.250.9/16 overlaps Docker network "bridge" 172.17.0.0/16');
    expect(c.fix).toMatchObject({ automatic: false, steps: [] });
    const t = await doctor(['nic1']);
    expect(t.stdout).toMatch(/^warn {2}docker-overlap/m);
    expect(t.stdout).toMatch(/^ {6}fix by hand {7}Move Docker off that range/m);
  });
});
