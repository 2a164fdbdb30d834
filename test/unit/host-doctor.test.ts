/**
 * The pieces of `hostnic doctor` and `hostnic nics` that need no root: the
 * unfinished-plans check on a real journal directory, fix records and the
 * undo plan built from them, the rows of attached NICs, and the output.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import chalk from 'chalk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkJson, formatCheck } from '../../src/commands/doctor.js';
import { checkUnfinishedPlans, planSummaries } from '../../src/doctor/checks/unfinished-plans.js';
import { isFixRecord, loadFixRecords, type FixRecord } from '../../src/doctor/records.js';
import type { Check } from '../../src/doctor/types.js';
import { CHECKS } from '../../src/doctor/index.js';
import { FIX_TOKEN, fixPlan, undoPlan, undoSteps } from '../../src/plan/doctor.js';
import { attachedNic } from '../../src/host/inventory.js';
import { SCHEMA, StateDir } from '../../src/state.js';
import type { SavedById, StepSpec } from '../../src/steps/types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function journal(id: string, pid: number, title = `Attach nic1 to pid:42 as eth1 (${id})`, pidStart = 777) {
  return {
    schema: SCHEMA, id, command: 'attach', title, pid, pidStart, startedAt: '2026-01-02T03:04:05.000Z', phase: 'apply',
    touches: ['nic1'], locks: ['nic1'], finalize: {}, steps: [],
  };
}

describe('unfinished-plans check (the runner journal)', () => {
  it('ok without journals (also when the state directory does not exist)', () => {
    expect(checkUnfinishedPlans(join(dir, 'none')).verdict).toBe('ok');
    const c = checkUnfinishedPlans(dir);
    expect(c).toMatchObject({ verdict: 'ok', title: `No unfinished plans in ${dir}` });
  });

  it('fails for the journal of a dead hostnic, and for an unreadable one; recover is the advice', () => {
    const state = new StateDir(dir);
    state.ensure();
    writeFileSync(join(state.journalDir, 'aaaa0001.json'), JSON.stringify(journal('aaaa0001', 99_999_999)));
    const c = checkUnfinishedPlans(dir);
    expect(c.verdict).toBe('fail');
    expect(c.title).toBe(`1 unfinished plan in ${dir}: "Attach nic1 to pid:42 as eth1 (aaaa0001)" (pid 99999999, started 2026-01-02T03:04:05.000Z)`);
    expect(c.fix).toEqual({ summary: expect.stringContaining('hostnic recover'), steps: [] });

    writeFileSync(join(state.journalDir, 'bbbb0002.json'), '{ half a file');
    const two = checkUnfinishedPlans(dir);
    expect(two.title).toMatch(/^2 unfinished plans in .*bbbb0002\.json: unreadable/);
    expect(two.fix!.summary).toContain('Move the unreadable journal file aside');
  });

  it('a plan whose hostnic still runs is in progress, not unfinished', () => {
    const state = new StateDir(dir);
    state.ensure();
    writeFileSync(join(state.journalDir, 'cccc0003.json'), JSON.stringify(journal('cccc0003', 4242, 'Attach nic2')));
    const proc = join(dir, 'proc');
    mkdirSync(join(proc, '4242'), { recursive: true });
    // /proc/PID/stat: the command name may hold spaces and ')'; field 22 is the start time (777, as in the journal).
    const stat = (start: number) => `4242 (node) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 ${start} 1000 100\n`;
    writeFileSync(join(proc, '4242', 'stat'), stat(777));
    expect(planSummaries(dir, proc).plans).toEqual([expect.objectContaining({ id: 'cccc0003', running: true })]);
    const c = checkUnfinishedPlans(dir, proc);
    expect(c).toMatchObject({ verdict: 'ok', title: `No unfinished plans in ${dir} ("Attach nic2" in progress, pid 4242)` });
    // The same pid, started later: a dead hostnic's pid reused by another process.
    writeFileSync(join(proc, '4242', 'stat'), stat(778));
    expect(planSummaries(dir, proc).plans).toEqual([expect.objectContaining({ id: 'cccc0003', running: false })]);
    expect(checkUnfinishedPlans(dir, proc).verdict).toBe('fail');
  });
});

const sysctlStep = (key: string, value: string): StepSpec => ({
  kind: 'sysctl.set', id: `sysctl:${key}`, title: `Set ${key}=${value}`, undoTitle: `Restore ${key}`, params: { ns: null, key, value },
});
const fileStep = (path: string): StepSpec => ({
  kind: 'file.write', id: `file:${path}`, title: `Write ${path}`, undoTitle: `Restore ${path}`, params: { path, content: 'x\n', mode: '0644' },
});

function record(id: string, createdAt: string, steps: StepSpec[], saved: SavedById): FixRecord {
  return { schema: SCHEMA, kind: 'doctor-fix', id, createdAt, checks: ['arp-flux'], nics: ['nic1'], steps, saved };
}

describe('fix records and the undo plan', () => {
  it('undo: newest record first, each reversed and inverted, with what its steps saved (by step id; absent: nothing)', () => {
    const older = record('00000001', '2026-01-01T00:00:00.000Z', [sysctlStep('a', '1'), fileStep('/etc/x')], { 'sysctl:a': '0', 'file:/etc/x': { existed: false, createdDirs: [] } });
    const newer = record('00000002', '2026-01-02T00:00:00.000Z', [sysctlStep('b', '2')], {});
    const steps = undoSteps([newer, older]);
    expect(steps.map((s) => [s.title, s.inverse, s.saved])).toEqual([
      ['Restore b', true, undefined],
      ['Restore /etc/x', true, { existed: false, createdDirs: [] }],
      ['Restore a', true, '0'],
    ]);
    expect(steps[2]!.undoTitle).toBe('Set a=1');
  });

  it('reads the records of <state>/doctor newest first; others are reported', () => {
    const d = join(dir, 'doctor');
    mkdirSync(d);
    // Read back only when valid (steps/validate.ts): real sysctl keys.
    const a = record('0000000a', '2026-01-01T00:00:00.000Z', [sysctlStep('net/ipv4/conf/all/arp_ignore', '1')], { 'sysctl:net/ipv4/conf/all/arp_ignore': '0' });
    const b = record('0000000b', '2026-03-01T00:00:00.000Z', [sysctlStep('net/ipv4/conf/all/arp_announce', '1')], { 'sysctl:net/ipv4/conf/all/arp_announce': '0' });
    writeFileSync(join(d, 'fix-0000000a.json'), JSON.stringify(a));
    writeFileSync(join(d, 'fix-0000000b.json'), JSON.stringify(b));
    writeFileSync(join(d, 'fix-bad.json'), JSON.stringify({ ...a, saved: [] }));
    const { records, bad } = loadFixRecords(new StateDir(dir));
    expect(records.map((r) => r.id)).toEqual(['0000000b', '0000000a']);
    expect(bad.map((x) => x.file)).toEqual([join(d, 'fix-bad.json')]);
    expect(isFixRecord({ ...a, kind: 'attachment' })).toBe(false);
    expect(loadFixRecords(new StateDir(join(dir, 'nope'))).records).toEqual([]);
  });
});

describe('the checks and the plans', () => {
  it('registry: every module under doctor/checks/ once, named by its id, in the order doctor prints them', () => {
    const ids = CHECKS.map((c) => c.id);
    expect(ids).toEqual([
      'privileges', 'tools', 'unfinished-plans', 'arp-flux', 'rp-filter', 'networkmanager',
      'systemd-networkd', 'ifupdown', 'dhcp-client', 'netplan', 'docker-overlap',
    ]);
    const files = readdirSync(join(__dirname, '../../src/doctor/checks')).map((f) => f.replace(/\.ts$/, ''));
    expect([...ids].sort()).toEqual(files.sort());
  });

  it('fix plan: the fixable checks\' steps in order, their NICs touched, the record written with what the steps saved', () => {
    const a: Check = { id: 'arp-flux', verdict: 'fail', title: 't', why: 'w', nics: ['nic1'], fix: { summary: 's', steps: [sysctlStep('a', '1')] } };
    const b: Check = { id: 'rp-filter', verdict: 'warn', title: 't', why: 'w', nics: ['nic1', 'nic2'], fix: { summary: 's', steps: [sysctlStep('b', '2'), fileStep('/etc/x')] } };
    const plan = fixPlan([a, b], '0000abcd', '2026-01-01T00:00:00.000Z');
    expect(plan).toMatchObject({ id: '0000abcd', command: 'doctor --fix', title: 'Fix arp-flux, rp-filter', touches: [FIX_TOKEN, 'nic1', 'nic2'] });
    expect(plan.steps.map((s) => s.title)).toEqual(['Set a=1', 'Set b=2', 'Write /etc/x']);
    expect(plan.finalize.write).toEqual([{
      path: 'doctor/fix-0000abcd.json',
      saved: true,
      value: { schema: SCHEMA, kind: 'doctor-fix', id: '0000abcd', createdAt: '2026-01-01T00:00:00.000Z', checks: ['arp-flux', 'rp-filter'], nics: ['nic1', 'nic2'], steps: plan.steps },
    }]);
    // What the runner writes (the value plus `saved`) is a record --undo can read.
    expect(isFixRecord({ ...plan.finalize.write![0]!.value, saved: { 'sysctl:b': '0' } })).toBe(true);
  });

  it('undo plan: every record reverted, its NICs touched, the records removed', () => {
    const r1 = record('00000001', '2026-01-01T00:00:00.000Z', [sysctlStep('a', '1')], { 'sysctl:a': '0' });
    const r2 = { ...record('00000002', '2026-01-02T00:00:00.000Z', [sysctlStep('b', '2')], { 'sysctl:b': '1' }), checks: ['rp-filter'], nics: ['nic2'] };
    const plan = undoPlan([r2, r1], '0000ffff');
    expect(plan).toMatchObject({
      id: '0000ffff', command: 'doctor --undo', title: 'Undo 2 doctor fixes (rp-filter, arp-flux)', touches: [FIX_TOKEN, 'nic2', 'nic1'],
      finalize: { remove: ['doctor/fix-00000002.json', 'doctor/fix-00000001.json'] },
    });
    // Newest record first, each step inverted, with what it saved, its id prefixed by its record's.
    expect(plan.steps.map((s) => [s.id, s.kind, s.inverse, s.saved, s.title])).toEqual([
      ['00000002/sysctl:b', 'sysctl.set', true, '1', 'Restore b'],
      ['00000001/sysctl:a', 'sysctl.set', true, '0', 'Restore a'],
    ]);
    expect(undoPlan([r1], 'x').title).toBe('Undo the doctor fix (arp-flux)');
  });
});

describe('rows of attached NICs', () => {
  it('from the link in the container when it is there, else from the record', () => {
    const base = { name: 'eth1', ifindex: 3, mac: '52:54:00:12:34:56', kind: undefined, parentDev: '0000:00:05.0', mtu: 1500, container: 'docker:web' };
    const gone = attachedNic(base);
    expect(gone).toMatchObject({
      name: 'eth1', role: 'attached', primary: false, container: 'docker:web', containerIfname: null, kind: 'physical',
      pci: '0000:00:05.0', state: 'unknown', up: false, arpIgnore: null, managedBy: [],
    });
    const there = attachedNic({
      ...base,
      link: { ifindex: 7, ifname: 'cloud0', flags: ['BROADCAST', 'UP', 'LOWER_UP'], mtu: 9000, address: '52:54:00:12:34:56', operstate: 'UP', link_type: 'ether' },
      addresses: ['192.168.1.4/24'],
    });
    expect(there).toMatchObject({ ifindex: 7, containerIfname: 'cloud0', state: 'up', up: true, mtu: 9000, addresses: ['192.168.1.4/24'] });
  });
});

describe('output', () => {
  const c: Check = {
    id: 'arp-flux',
    verdict: 'fail',
    title: 'ARP flux: nic1',
    why: 'one two three four five six seven eight nine ten',
    nics: ['nic1'],
    fix: { summary: 'sysctl it', steps: [sysctlStep('net/ipv4/conf/all/arp_ignore', '1')] },
  };

  it('JSON: every field, and the exact commands of each fix step', () => {
    expect(checkJson(c)).toEqual({
      id: 'arp-flux', verdict: 'fail', title: 'ARP flux: nic1', why: c.why, nics: ['nic1'],
      fix: { summary: 'sysctl it', automatic: true, steps: [{ kind: 'sysctl.set', title: 'Set net/ipv4/conf/all/arp_ignore=1', commands: ['sysctl -q -w net/ipv4/conf/all/arp_ignore=1'] }] },
    });
    expect(checkJson({ id: 'tools', verdict: 'ok', title: 't', why: 'w' })).toMatchObject({ nics: [], fix: null });
  });

  it('text: verdict, id, title; why and fix for a problem only (all of them with verbose)', () => {
    const level = chalk.level;
    chalk.level = 0;
    try {
      expect(formatCheck(c, false, 100)).toEqual([
        'fail  arp-flux          ARP flux: nic1',
        '      why               one two three four five six seven eight nine ten',
        '      fix               sysctl it [hostnic doctor --fix]',
      ]);
      const ok: Check = { id: 'tools', verdict: 'ok', title: 'fine', why: 'because' };
      expect(formatCheck(ok, false, 100)).toEqual(['ok    tools             fine']);
      expect(formatCheck(ok, true, 100)).toEqual(['ok    tools             fine', '      why               because']);
      expect(formatCheck({ ...c, fix: { summary: 'by hand', steps: [] } }, false, 100)[2]).toBe('      fix by hand       by hand');
    } finally {
      chalk.level = level;
    }
  });
});
