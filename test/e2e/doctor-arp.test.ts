/**
 * ARP flux and rp_filter in a throwaway lab namespace (sysctls under net.ipv4
 * are per namespace): detect, fix, undo, with the kernel's values asserted.
 * The fix steps are run by hand, command by command, as the runner runs
 * them; the sysctl.d file goes to a scratch directory.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run as runCmd } from '../../src/exec.js';
import { runChecks, type Check } from '../../src/doctor/index.js';
import { listNics } from '../../src/host/inventory.js';
import { defaultHostPaths, type HostPaths } from '../../src/host/paths.js';
import { sysctlReader } from '../../src/host/sysctl.js';
import { fileWrite } from '../../src/steps/file.js';
import { sysctlSet } from '../../src/steps/sysctl.js';
import type { StepKind, StepSpec } from '../../src/steps/types.js';
import { createLab, mustInNs, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable, linkIn } from '../helpers/hostnic.js';

const root = requireRoot();

const KINDS: Record<string, StepKind> = { 'sysctl.set': sysctlSet, 'file.write': fileWrite };

async function applySteps(steps: StepSpec[]): Promise<StepSpec[]> {
  const done: StepSpec[] = [];
  for (const s of steps) {
    const kind = KINDS[s.kind]!;
    const saved = kind.capture ? await kind.capture(s.params) : undefined;
    for (const cmd of kind.apply(s.params, saved)) await runCmd(cmd);
    done.push({ ...s, saved });
  }
  return done;
}

async function undoSteps(done: StepSpec[]): Promise<void> {
  for (const s of [...done].reverse()) for (const cmd of KINDS[s.kind]!.undo(s.params, s.saved)) await runCmd(cmd);
}

describe.skipIf(!root)('doctor: ARP flux and rp_filter in a lab namespace', () => {
  let lab: Lab;
  let etc: string;
  let paths: HostPaths;

  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    etc = await mkdtemp(join(tmpdir(), 'hostnic-etc-'));
    paths = { ...defaultHostPaths({ HOSTNIC_CONFIG_ROOT: etc }), stateDir: lab.stateDir };
  });

  afterEach(async () => {
    await lab.destroy();
    await rm(etc, { recursive: true, force: true });
  });

  const sysctl = async (key: string) => (await mustInNs(lab.host, ['sysctl', '-n', key])).trim();
  const check = async (id: string): Promise<Check> =>
    (await runChecks({ netns: lab.hostNs, paths, docker: false })).find((c) => c.id === id)!;

  it('one NIC: no ARP flux possible', async () => {
    await lab.addPrimary();
    expect((await check('arp-flux')).verdict).toBe('ok');
  });

  it('detects ARP flux, fixes it now and at boot, and the undo restores the exact values and removes the file', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    const sysctlFile = join(paths.sysctlConfDir, '90-hostnic.conf');

    const c = await check('arp-flux');
    expect(c.verdict).toBe('fail');
    expect(c.nics).toEqual(['uplink0', 'nic1']);
    expect(c.fix!.steps.map((s) => [s.kind, (s.params as { key?: string; path?: string }).key ?? (s.params as { path: string }).path])).toEqual([
      ['sysctl.set', 'net/ipv4/conf/all/arp_ignore'],
      ['sysctl.set', 'net/ipv4/conf/all/arp_announce'],
      ['file.write', sysctlFile],
    ]);
    expect(c.fix!.steps[0]!.params).toMatchObject({ ns: lab.hostNs, value: '1' });

    const before = comparable(await lab.snapshot(lab.host));
    const done = await applySteps(c.fix!.steps);
    expect(await sysctl('net.ipv4.conf.all.arp_ignore')).toBe('1');
    expect(await sysctl('net.ipv4.conf.all.arp_announce')).toBe('2');
    // The machine's own namespace was not touched (the lab may differ from it, but the fix went to the lab).
    expect(done[0]!.saved).toBe('0');
    const text = await readFile(sysctlFile, 'utf8');
    expect(text).toContain('net.ipv4.conf.all.arp_ignore = 1\n');
    expect(text).toContain('net.ipv4.conf.all.arp_announce = 2\n');

    const nics = await listNics({ netns: lab.hostNs, paths, managers: false });
    expect(nics.map((n) => [n.name, n.arpIgnore, n.arpAnnounce])).toEqual([
      ['uplink0', 1, 2],
      ['nic1', 1, 2],
    ]);
    const after = await check('arp-flux');
    expect(after.verdict).toBe('ok');
    expect(after.fix).toBeUndefined();

    await undoSteps(done);
    expect(await sysctl('net.ipv4.conf.all.arp_ignore')).toBe('0');
    expect(await sysctl('net.ipv4.conf.all.arp_announce')).toBe('0');
    expect(existsSync(sysctlFile)).toBe(false);
    expect(existsSync(paths.sysctlConfDir)).toBe(false); // the directory the fix made is gone too
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
    expect((await check('arp-flux')).verdict).toBe('fail');
  });

  it('uses the larger of all and the interface value, per NIC', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1' });
    await mustInNs(lab.host, ['sysctl', '-q', '-w', 'net.ipv4.conf.nic1.arp_ignore=2', 'net.ipv4.conf.nic1.arp_announce=2']);
    const nics = await listNics({ netns: lab.hostNs, paths, managers: false });
    expect(nics.map((n) => [n.name, n.arpIgnore, n.arpAnnounce])).toEqual([
      ['uplink0', 0, 0],
      ['nic1', 2, 2],
    ]);
    const c = await check('arp-flux');
    expect(c.verdict).toBe('fail');
    expect(c.nics).toEqual(['uplink0']);
  });

  it('right now but not at boot: warns and offers only the file; a later file that undoes it is pointed at', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1' });
    await mustInNs(lab.host, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
    const c = await check('arp-flux');
    expect(c.verdict).toBe('warn');
    expect(c.fix!.steps.map((s) => s.kind)).toEqual(['file.write']);
    const before = comparable(await lab.snapshot(lab.host));
    const done = await applySteps(c.fix!.steps);
    // Only the file: the namespace is as it was.
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
    expect((await check('arp-flux')).verdict).toBe('ok');

    // 99-local.conf sorts after ours and sets it back to 0 at boot.
    await mkdir(paths.sysctlConfDir, { recursive: true });
    await writeFile(join(paths.sysctlConfDir, '99-local.conf'), 'net.ipv4.conf.all.arp_ignore = 0\n');
    const over = await check('arp-flux');
    expect(over.verdict).toBe('warn');
    expect(over.fix!.steps).toEqual([]);
    expect(over.fix!.summary).toContain(`${join(paths.sysctlConfDir, '99-local.conf')}:1 sets net.ipv4.conf.all.arp_ignore=0`);
    await rm(join(paths.sysctlConfDir, '99-local.conf'));
    await undoSteps(done);
    expect(existsSync(paths.sysctlConfDir)).toBe(false);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
  });

  it('reads sysctls of another namespace through one nsenter, and of its own directly', async () => {
    await lab.addNic({ name: 'nic1' });
    await mustInNs(lab.host, ['sysctl', '-q', '-w', 'net.ipv4.conf.nic1.arp_ignore=2']);
    const got = await sysctlReader(lab.hostNs).get(['net/ipv4/conf/nic1/arp_ignore', 'net/ipv4/conf/nope0/arp_ignore', 'net/ipv4/conf/all/arp_ignore']);
    expect(Object.fromEntries(got)).toEqual({ 'net/ipv4/conf/nic1/arp_ignore': '2', 'net/ipv4/conf/all/arp_ignore': '0' });
    const own = await sysctlReader().get(['net/ipv4/conf/lo/arp_ignore']);
    expect(own.has('net/ipv4/conf/lo/arp_ignore')).toBe(true);
  });

  it('strict rp_filter on NICs sharing a subnet: warns, and loose mode per NIC is undone exactly', async () => {
    await lab.addPrimary();
    await lab.addNic({ name: 'nic1', addrs: ['192.168.1.20/24'] });
    await lab.addNic({ name: 'nic2', addrs: ['10.9.0.2/24'] });
    expect((await check('rp-filter')).verdict).toBe('ok'); // rp_filter 0 in the lab baseline
    await mustInNs(lab.host, ['sysctl', '-q', '-w', 'net.ipv4.conf.all.rp_filter=1']);
    const c = await check('rp-filter');
    expect(c.verdict).toBe('warn');
    expect(c.nics).toEqual(['uplink0', 'nic1']);
    expect(c.title).toContain('192.168.1.0/24');
    const before = comparable(await lab.snapshot(lab.host));
    const done = await applySteps(c.fix!.steps);
    expect(await sysctl('net.ipv4.conf.nic1.rp_filter')).toBe('2');
    expect(await sysctl('net.ipv4.conf.uplink0.rp_filter')).toBe('2');
    // nic2 shares no subnet: the fix leaves it, and everything else, alone.
    const fixed = comparable(await lab.snapshot(lab.host));
    expect(linkIn(fixed, 'nic2')).toEqual(linkIn(before, 'nic2'));
    expect(linkIn(fixed, 'nic2').sysctl['ipv4.rp_filter']).toBe('0');
    expect(fixed.conf).toEqual(before.conf);
    expect((await check('rp-filter')).verdict).toBe('ok');
    await undoSteps(done);
    expect(await sysctl('net.ipv4.conf.nic1.rp_filter')).toBe('0');
    expect(comparable(await lab.snapshot(lab.host))).toEqual(before);
    expect((await check('rp-filter')).verdict).toBe('warn');
  });
});
