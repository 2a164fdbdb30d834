/**
 * hostnic apply and the desired-state file (issue 13, sections 1 and 2),
 * against the real kernel in a lab: named network namespaces stand for the
 * containers (`netns:NAME`, a target the file allows), veth NICs for the
 * host's NICs. Every case here keeps the namespaces alive, so the
 * physical-return and virtual-death paths (a namespace dying) are not
 * exercised here; a NIC "moved back by hand" is moved with `ip link set
 * netns`, as a person would.
 *
 * HOSTNIC_CONFIG_ROOT points at a root-owned 0755 temporary tree: the real
 * /etc/hostnic is never read or written.
 */
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';

const root = requireRoot();

interface Result { action: string; why?: string; detail: string; besides?: string[]; drift?: string[]; exitCode: number; nic: string; container: string }
interface Report { entries: Result[]; unwanted: { action: string; nic: string }[]; exitCode: number }

describe.skipIf(!root)('hostnic apply (real kernel)', () => {
  let lab: Lab;
  let conf: string;
  let file: string;
  const env = (): Record<string, string> => ({ HOSTNIC_CONFIG_ROOT: conf });
  const write = (text: string, mode = 0o644): void => {
    mkdirSync(join(conf, 'etc', 'hostnic'), { recursive: true, mode: 0o755 });
    writeFileSync(file, text, { mode });
    chmodSync(file, mode);
  };
  const apply = (args: string[] = []) => lab.hostnic(['apply', ...args], { env: env() });
  const applyJson = async (args: string[] = []): Promise<{ code: number; report: Report; stderr: string }> => {
    const r = await apply(['--json', ...args]);
    return { code: r.exitCode, report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
  };
  const linkOf = async (ns: string, name: string) => (await lab.snapshot(ns)).links.find((l) => l.ifname === name);

  beforeEach(async () => {
    // No IPv6 DAD: each snapshot after a NIC came up (or back) would wait for the DAD of its link-local address
    // (~1-2 s; the bad-file cases take two snapshots each). Nothing here is about DAD.
    lab = await createLab({ dad: false });
    conf = mkdtempSync(join(tmpdir(), 'hostnic-conf-'));
    chmodSync(conf, 0o755);
    file = join(conf, 'etc', 'hostnic', 'attachments.yaml');
  });
  afterEach(async () => {
    await lab.destroy();
    rmSync(conf, { recursive: true, force: true });
  });

  it('attaches what is missing, in one process; then everything in place runs no command that changes anything', async () => {
    const n1 = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const n2 = await lab.addNic();
    const a = await lab.addNetns();
    const b = await lab.addNetns();
    write([
      '# two containers',
      'attachments:',
      `  - container: netns:${a}`,
      `    nic: ${n1}`,
      '    addresses: [192.168.1.4/24@192.168.1.1]',
      '    mtu: 1400',
      `  - container: netns:${b}`,
      `    nic: ${n2}`,
      '    addresses: [192.168.1.5/24]',
      '    name: cloud0',
      '    routes: [198.51.100.0/24@192.168.1.1]',
      '',
    ].join('\n'));
    // A dry run plans both attaches and changes nothing.
    const dryBefore = await Promise.all([lab.snapshot(lab.host), lab.snapshot(a), lab.snapshot(b)]);
    const dry = await applyJson(['--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.report.entries.map((e) => e.action)).toEqual(['attached', 'attached']);
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a), lab.snapshot(b)])).toEqual(dryBefore);
    const first = await applyJson();
    expect(first.code, first.stderr).toBe(0);
    expect(first.report.entries.map((e) => e.action)).toEqual(['attached', 'attached']);
    const e1 = await linkOf(a, 'eth1');
    expect(e1?.mtu).toBe(1400);
    expect(e1?.addrs.map((x) => `${x.local}/${x.prefixlen}`)).toContain('192.168.1.4/24');
    expect(await linkOf(b, 'cloud0')).toBeDefined();
    expect((await lab.snapshot(lab.host)).links.some((l) => l.ifname === n1 || l.ifname === n2)).toBe(false);
    expect(await lab.ping(a, lab.remote4)).toBe(true);
    expect(await lab.ping(b, lab.remote4)).toBe(true);

    const [hostBefore, aBefore, bBefore] = await Promise.all([lab.snapshot(lab.host), lab.snapshot(a), lab.snapshot(b)]);
    const again = await apply(['--verbose']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/in place .*netns:.* eth1/);
    // The trace: reads only (ip -json ...), and there were some.
    const traced = again.stderr.split('\n').filter((l) => l.trim().startsWith('$ '));
    expect(traced.length).toBeGreaterThan(0);
    for (const l of traced) expect(l).toMatch(/\bip (-d )?-json\b/);
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a), lab.snapshot(b)])).toEqual([hostBefore, aBefore, bBefore]);
  });

  it('host NICs named ethN that swap names in their container are in place on the next apply (an entry names the host NIC, not the container\'s)', async () => {
    // The first entry's host eth2 becomes eth1 in the container (the first free ethN), host eth1 then eth2.
    const e1 = await lab.addNic({ name: 'eth1' });
    const e2 = await lab.addNic({ name: 'eth2' });
    const a = await lab.addNetns();
    write(['attachments:', `  - container: netns:${a}`, `    nic: ${e2}`, '    addresses: [192.168.1.4/24]',
      `  - container: netns:${a}`, `    nic: ${e1}`, '    addresses: [192.168.1.5/24]', ''].join('\n'));
    const first = await applyJson();
    expect(first.code, first.stderr).toBe(0);
    expect(first.report.entries.map((e) => e.action)).toEqual(['attached', 'attached']);
    expect((await linkOf(a, 'eth1'))?.addrs.map((x) => x.local)).toContain('192.168.1.4');
    expect((await linkOf(a, 'eth2'))?.addrs.map((x) => x.local)).toContain('192.168.1.5');
    const before = await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)]);
    const again = await apply(['--json', '--verbose']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as Report).entries.map((e) => e.action)).toEqual(['in-place', 'in-place']);
    for (const l of again.stderr.split('\n').filter((x) => x.trim().startsWith('$ '))) expect(l).toMatch(/\bip (-[d46] )?-json\b/);
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)])).toEqual(before);
    // detach by a name the host knows takes that NIC only (not also the one that is eth1 inside).
    const d = await lab.hostnic(['detach', `netns:${a}`, e1]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).toContain(e1);
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).not.toContain(e2);
    expect((await linkOf(a, 'eth1'))?.addrs.map((x) => x.local)).toContain('192.168.1.4');
  });

  it("physical: a NIC not back yet from a restarted container's dead namespace keeps its record (the entry waits, exit 1); virtual: forgotten", async () => {
    // A veth dies with its namespace. With `kind` taken out of its record it stands for a physical NIC
    // the kernel has not handed back yet (found nowhere): apply must not forget its host settings.
    const nic = await lab.addNic({ addrs: ['10.50.0.9/24'] });
    const name = await lab.addNetns();
    write(['attachments:', `  - container: netns:${name}`, `    nic: ${nic}`, '    addresses: [192.168.1.4/24]', ''].join('\n'));
    expect((await apply()).exitCode).toBe(0);
    const dir = join(lab.stateDir, 'attachments');
    const [file] = readdirSync(dir);
    const rec = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { input: { host: { kind?: string } } };
    expect(rec.input.host.kind).toBe('veth');
    delete rec.input.host.kind;
    writeFileSync(join(dir, file!), JSON.stringify(rec));
    // The container restarts: its namespace dies (the veth with it), a new one takes its name.
    await execa('ip', ['netns', 'del', name]);
    await execa('ip', ['netns', 'add', name]);
    const r = await applyJson();
    expect(r.code).toBe(1);
    expect(r.report.entries.map((e) => [e.action, e.why])).toEqual([['skipped', 'nic-returning']]);
    expect(r.report.entries[0]!.detail).toMatch(new RegExp(`${nic} is not back in the host from netns:${name}'s earlier namespace yet`));
    expect(readdirSync(dir)).toEqual([file]);
  });

  it('a record that fails validation (written by another hostnic) is never replaced by the tag and removed: its entry fails, nothing changes; the other NIC of the container is in place', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.9/24'] });
    const other = await lab.addNic();
    const a = await lab.addNetns();
    write(['attachments:', `  - container: netns:${a}`, `    nic: ${nic}`, '    addresses: [192.168.1.4/24]', '    routes: [198.51.100.0/24@192.168.1.1]',
      `  - container: netns:${a}`, `    nic: ${other}`, '    addresses: [192.168.1.5/24]', ''].join('\n'));
    expect((await apply()).exitCode).toBe(0);
    const dir = join(lab.stateDir, 'attachments');
    const file = readdirSync(dir).find((f) => (JSON.parse(readFileSync(join(dir, f), 'utf8')) as { input: { host: { name: string } } }).input.host.name === nic);
    const rec = JSON.parse(readFileSync(join(dir, file!), 'utf8')) as { schema: number };
    writeFileSync(join(dir, file!), JSON.stringify({ ...rec, schema: 99 }));
    const before = await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)]);
    const r = await applyJson();
    expect(r.code).toBe(1);
    expect(r.report.entries.map((e) => e.action)).toEqual(['failed', 'in-place']);
    expect(r.report.entries[0]!.detail).toMatch(new RegExp(`cannot be used: .*${file!.replace('.', '\\.')}: written by a hostnic with state schema 99`));
    expect(readdirSync(dir)).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(dir, file!), 'utf8'))).toMatchObject({ schema: 99 });
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)])).toEqual(before);
    writeFileSync(join(dir, file!), JSON.stringify(rec));
  });

  it('one NIC named two ways in two entries (its name, its MAC) is refused before anything runs (exit 2, FILE:LINE)', async () => {
    const nic = await lab.addNic({ mac: '02:00:00:00:bb:01' });
    const [a, b] = [await lab.addNetns(), await lab.addNetns()];
    write(['attachments:', `  - container: netns:${a}`, `    nic: ${nic}`, '    addresses: [192.168.1.4/24]',
      `  - container: netns:${b}`, '    nic: mac:02:00:00:00:bb:01', '    addresses: [192.168.1.5/24]', ''].join('\n'));
    const before = await Promise.all([lab.snapshot(lab.host), lab.snapshot(a), lab.snapshot(b)]);
    const r = await apply();
    expect(r.exitCode).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe(`hostnic: ${file}:5: NIC mac:02:00:00:00:bb:01 is the NIC of the entry at line 2, named another way: one NIC can be in one container only`);
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a), lab.snapshot(b)])).toEqual(before);
    expect(readdirSync(lab.stateDir).includes('attachments') ? readdirSync(join(lab.stateDir, 'attachments')) : []).toEqual([]);
  });

  it('a NIC back in the host whose host route cannot be restored: renamed home, the rest best effort, kept in a note; attached again (exit 3)', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const other = await lab.addNic({ addrs: ['10.70.0.2/24'] });
    expect((await lab.inNs(lab.host, ['ip', 'route', 'add', '10.60.0.0/16', 'via', '10.50.0.1', 'dev', nic])).exitCode).toBe(0);
    const a = await lab.addNetns();
    write(['attachments:', `  - container: netns:${a}`, `    nic: ${nic}`, '    addresses: [192.168.1.4/24]', ''].join('\n'));
    expect((await apply()).exitCode).toBe(0);
    // Meanwhile the host routes 10.60.0.0/16 another way; then the NIC is moved back into the host by hand.
    expect((await lab.inNs(lab.host, ['ip', 'route', 'add', '10.60.0.0/16', 'via', '10.70.0.1', 'dev', other])).exitCode).toBe(0);
    expect((await lab.inNs(`/run/netns/${a}`, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', lab.hostNs])).exitCode).toBe(0);
    const r = await applyJson();
    expect(r.code, r.stderr).toBe(3);
    expect(r.report.entries[0]).toMatchObject({ action: 'repaired', exitCode: 3 });
    expect(r.report.entries[0]!.detail).toMatch(new RegExp(`${nic} is back in the host, but 1 of its host settings could not be restored: .hostnic status. shows them`));
    // It came home (renamed, its address back: the new record took them), then went in again.
    expect((await linkOf(a, 'eth1'))?.addrs.map((x) => x.local)).toContain('192.168.1.4');
    expect(readdirSync(join(lab.stateDir, 'incomplete'))).toHaveLength(1);
    const [recFile] = readdirSync(join(lab.stateDir, 'attachments'));
    const rec = JSON.parse(readFileSync(join(lab.stateDir, 'attachments', recFile!), 'utf8')) as { input: { host: { name: string; addrs: string[][] } } };
    expect(rec.input.host.name).toBe(nic);
    expect(rec.input.host.addrs.map((x) => x[0])).toContain('10.50.0.2/24');
    expect((await lab.hostnic(['status'])).stdout + (await lab.hostnic(['status'])).stderr).toMatch(/ip route add 10\.60\.0\.0\/16 via 10\.50\.0\.1/);
  });

  it('repairs drift (MTU changed, NIC moved back to the host by hand), reports an address a person added and leaves it', async () => {
    const n1 = await lab.addNic();
    const n2 = await lab.addNic({ addrs: ['10.50.0.3/24'] });
    const n3 = await lab.addNic();
    const a = await lab.addNetns();
    const b = await lab.addNetns();
    const c = await lab.addNetns();
    write([
      'attachments:',
      `  - {container: "netns:${a}", nic: ${n1}, addresses: [192.168.1.4/24@192.168.1.1], mtu: 1400}`,
      `  - {container: "netns:${b}", nic: ${n2}, addresses: [192.168.1.5/24@192.168.1.1]}`,
      `  - {container: "netns:${c}", nic: ${n3}, addresses: [192.168.1.6/24]}`,
      '',
    ].join('\n'));
    expect((await apply()).exitCode).toBe(0);
    const hostWithAttached = await lab.snapshot(lab.host);

    await lab.inNs(a, ['ip', 'link', 'set', 'dev', 'eth1', 'mtu', '1300']);
    // Moved back to the host by hand: it arrives with its container name and tag, without its addresses.
    await lab.inNs(b, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', lab.hostNs]);
    await lab.inNs(c, ['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'eth1']);

    const { code, report, stderr } = await applyJson();
    expect(code, stderr).toBe(0);
    const [ra, rb, rc] = report.entries;
    expect(ra!.action).toBe('repaired');
    expect(ra!.drift!.join()).toMatch(/MTU 1300/);
    expect(rb!.action).toBe('repaired');
    expect(rc!.action).toBe('in-place');
    expect(rc!.besides).toEqual(['address 10.77.0.1/24 added on eth1']);

    expect((await linkOf(a, 'eth1'))?.mtu).toBe(1400);
    const backInB = await linkOf(b, 'eth1');
    expect(backInB?.addrs.map((x) => `${x.local}/${x.prefixlen}`)).toContain('192.168.1.5/24');
    expect(await lab.ping(b, lab.remote4)).toBe(true);
    // The host is as it was with everything attached: the hand-moved NIC did not stay, no temp namespace.
    expect(await lab.snapshot(lab.host)).toEqual(hostWithAttached);
    expect((await linkOf(c, 'eth1'))?.addrs.map((x) => `${x.local}/${x.prefixlen}`)).toContain('10.77.0.1/24');

    // Text output says what was changed besides.
    const text = await apply();
    expect(text.stdout).toMatch(/note: address 10\.77\.0\.1\/24 added on eth1: changed besides/);
  });

  it('lists attachments no entry wants; --prune detaches them and the host gets the NIC back as it was', async () => {
    const n1 = await lab.addNic({ addrs: ['10.50.0.2/24'], mtu: 1450 });
    const a = await lab.addNetns();
    const hostBefore = await lab.snapshot(lab.host);
    const at = await lab.hostnic(['attach', `netns:${a}`, n1, '192.168.1.4/24'], { env: env() });
    expect(at.exitCode, at.stderr).toBe(0);
    write('attachments: []\n');
    const listed = await applyJson();
    expect(listed.code).toBe(0);
    expect(listed.report.unwanted).toEqual([expect.objectContaining({ action: 'listed', nic: n1 })]);
    expect(await linkOf(a, 'eth1')).toBeDefined();
    const pruned = await applyJson(['--prune']);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.report.unwanted).toEqual([expect.objectContaining({ action: 'detached', nic: n1 })]);
    expect(await lab.snapshot(lab.host)).toEqual(hostBefore);
  });

  it('a missing NIC is reported (exit 1) and a stopped container waits (not an error); the other entries are applied', async () => {
    const n1 = await lab.addNic();
    const a = await lab.addNetns();
    write([
      'attachments:',
      `  - {container: "netns:${a}", nic: nosuchnic9, addresses: [192.168.1.9/24]}`,
      `  - {container: "netns:hnn-${lab.id}-gone", nic: ${n1}, addresses: [192.168.1.8/24]}`,
      `  - {container: "netns:${a}", nic: mac:02:00:00:00:99:99}`,
      '',
    ].join('\n'));
    const { code, report } = await applyJson();
    expect(code).toBe(1);
    expect(report.entries.map((e) => [e.action, e.why])).toEqual([
      ['skipped', 'nic-missing'], ['skipped', 'container-not-running'], ['skipped', 'nic-missing'],
    ]);
    // status lists them as waiting, and why.
    const st = await lab.hostnic(['status', '--json'], { env: env() });
    expect(st.exitCode, st.stderr).toBe(0);
    const waiting = (JSON.parse(st.stdout) as { desired: { waiting: { why: string; line: number }[] } }).desired.waiting;
    expect(waiting.map((w) => [w.why, w.line])).toEqual([['nic-missing', 2], ['container-not-running', 3], ['nic-missing', 4]]);
    // Only the waiting container: exit 0, and the NIC stays in the host untouched.
    write(`attachments:\n  - {container: "netns:hnn-${lab.id}-gone", nic: ${n1}}\n`);
    const hostBefore = await lab.snapshot(lab.host);
    const w = await apply();
    expect(w.exitCode, w.stderr).toBe(0);
    expect(w.stdout).toMatch(/waiting/);
    expect(await lab.snapshot(lab.host)).toEqual(hostBefore);

    // The NIC that is there is attached even when another entry's NIC is missing.
    write([
      'attachments:',
      `  - {container: "netns:${a}", nic: nosuchnic9}`,
      `  - {container: "netns:${a}", nic: ${n1}, addresses: [192.168.1.8/24]}`,
      '',
    ].join('\n'));
    const mixed = await applyJson();
    expect(mixed.code).toBe(1);
    expect(mixed.report.entries.map((e) => e.action)).toEqual(['skipped', 'attached']);
    expect(await linkOf(a, 'eth1')).toBeDefined();
  });

  it('a container whose namespace goes away while apply waits for its NIC\'s lock is waiting, not failed; nothing changes', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const a = await lab.addNetns();
    write(`attachments:\n  - {container: "netns:${a}", nic: ${nic}, addresses: [192.168.1.8/24]}\n`);
    const hostBefore = await lab.snapshot(lab.host);
    // Another holder of the NIC's lock (what a second hostnic on that NIC is): apply waits for it.
    mkdirSync(join(lab.stateDir, 'locks'), { recursive: true, mode: 0o700 });
    const holder = execa('flock', ['--no-fork', join(lab.stateDir, 'locks', nic), 'sleep', '30'], { reject: false });
    await new Promise((r) => setTimeout(r, 200));
    const run = applyJson();
    await new Promise((r) => setTimeout(r, 1000));
    await execa('ip', ['netns', 'del', a]); // the container stops meanwhile
    holder.kill('SIGKILL');
    await holder;
    const { code, report, stderr } = await run;
    expect(code, stderr).toBe(0);
    expect(report.entries.map((e) => [e.action, e.why])).toEqual([['skipped', 'container-not-running']]);
    expect(report.entries[0]!.detail).toMatch(/stopped while it was looked at/);
    expect(await lab.snapshot(lab.host)).toEqual(hostBefore);
  });

  it('attach --persist writes the entry (keeping comments), detach --keep leaves it, detach removes it; apply follows the file', async () => {
    const n1 = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const a = await lab.addNetns();
    const hostBefore = await lab.snapshot(lab.host);
    // No directory yet: made 0755, the file 0644, both root's.
    const at = await lab.hostnic(['attach', '--persist', `netns:${a}`, n1, '192.168.1.4/24@192.168.1.1', '--mtu', '1400'], { env: env() });
    expect(at.exitCode, at.stderr).toBe(0);
    expect(at.stdout).toMatch(/entry written in/);
    expect(lstatSync(join(conf, 'etc', 'hostnic')).mode & 0o7777).toBe(0o755);
    const st = lstatSync(file);
    expect([st.mode & 0o7777, st.uid]).toEqual([0o644, 0]);
    expect(readFileSync(file, 'utf8')).toContain(`  - container: netns:${a}\n    nic: ${n1}\n    addresses: [192.168.1.4/24@192.168.1.1]\n    mtu: 1400\n`);

    // The person's comments and order survive every edit.
    write(`# keep me\n${readFileSync(file, 'utf8')}  # the second one\n  - container: netns:hnn-${lab.id}-later  # not yet\n    nic: mac:02:00:00:00:99:98\n`);
    const inPlace = await applyJson();
    expect(inPlace.report.entries.map((e) => e.action)).toEqual(['in-place', 'skipped']);

    const keep = await lab.hostnic(['detach', `netns:${a}`, n1, '--keep'], { env: env() });
    expect(keep.exitCode, keep.stderr).toBe(0);
    const kept = readFileSync(file, 'utf8');
    expect(kept).toContain(`nic: ${n1}`);
    expect(await lab.snapshot(lab.host)).toEqual(hostBefore);
    const again = await applyJson();
    expect(again.report.entries[0]!.action).toBe('attached');

    const det = await lab.hostnic(['detach', `netns:${a}`, n1], { env: env() });
    expect(det.exitCode, det.stderr).toBe(0);
    expect(det.stdout).toMatch(/entry removed from/);
    const after = readFileSync(file, 'utf8');
    expect(after).not.toContain(`nic: ${n1}`);
    expect(after).toContain('# keep me');
    expect(after).toContain('# the second one');
    expect(after).toContain('# not yet');
    expect(await lab.snapshot(lab.host)).toEqual(hostBefore);
  });

  it('attach --persist rolls the file back with the attach when a step fails; a bad file or a pid target is refused before anything', async () => {
    const n1 = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const a = await lab.addNetns();
    write('# mine\nattachments: []\n');
    const before = await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)]);
    const args = ['attach', '--persist', `netns:${a}`, n1, '192.168.1.4/24'];
    const dry = await lab.hostnic([...args, '--dry-run', '--json'], { env: env() });
    const steps = (JSON.parse(dry.stdout) as { plan: { steps: { title: string }[] } }).plan.steps;
    expect(steps.at(-1)!.title).toMatch(/^Write the entry of/);
    const failed = await lab.hostnic(args, { env: { ...env(), HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: String(steps.length - 1) } });
    expect(failed.exitCode).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('# mine\nattachments: []\n');
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)])).toEqual(before);

    const pid = await lab.hostnic(['attach', '--persist', 'pid:1', n1], { env: env() });
    expect(pid.exitCode).toBe(2);
    expect(pid.stderr).toMatch(/--persist needs a container/);
    write('attachments:\n  - {container: web, nic: eth9, bogus: 1}\n');
    const bad = await lab.hostnic(args, { env: env() });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/attachments\.yaml:2: unknown key "bogus"/);
    expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(a)])).toEqual(before);
  });

  it('hostnic schema prints the schema shipped in the package', async () => {
    const r = await lab.hostnic(['schema']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schema', 'attachments.schema.json'), 'utf8')));
  });

  describe('a bad file changes nothing (exit 2, FILE:LINE)', () => {
    const cases: { name: string; text?: (nic: string, ns: string) => string; setup?: () => void; line?: number; message: RegExp }[] = [
      { name: 'YAML error', text: (n, ns) => `attachments:\n  - container: netns:${ns}\n\tnic: ${n}\n`, line: 3, message: /not valid YAML/ },
      { name: 'unknown key', text: (n, ns) => `attachments:\n  - container: netns:${ns}\n    nic: ${n}\n    adress: [192.168.1.4/24]\n`, line: 4, message: /unknown key "adress"/ },
      { name: 'bad address', text: (n, ns) => `attachments:\n  - container: netns:${ns}\n    nic: ${n}\n    addresses: [192.168.1.400/24]\n`, line: 4, message: /invalid address/ },
      { name: 'bad route', text: (n, ns) => `attachments:\n  - container: netns:${ns}\n    nic: ${n}\n    addresses: [192.168.1.4/24]\n    routes: [10.0.0.1/8]\n`, line: 5, message: /invalid route/ },
      { name: 'one NIC in two entries', text: (n, ns) => `attachments:\n  - {container: "netns:${ns}", nic: ${n}}\n  - {container: web, nic: ${n}}\n`, line: 3, message: /also moved by the entry at line 2/ },
      { name: 'pid target', text: (n) => `attachments:\n  - {container: "pid:1", nic: ${n}}\n`, line: 2, message: /a pid names/ },
      { name: '/proc target', text: (n) => `attachments:\n  - {container: /proc/1/ns/net, nic: ${n}}\n`, line: 2, message: /a path names/ },
      { name: 'group-writable file', setup: () => chmodSync(file, 0o664), message: /the file is writable by its group/ },
      { name: 'file not root\'s', setup: () => chownSync(file, 1000, 1000), message: /the file is owned by uid 1000/ },
      { name: 'world-writable directory', setup: () => chmodSync(join(conf, 'etc', 'hostnic'), 0o757), message: /its directory .* is writable by others/ },
      {
        name: 'symlink', message: /the file is a symbolic link/,
        setup: () => { const real = join(conf, 'etc', 'hostnic', 'real.yaml'); writeFileSync(real, readFileSync(file)); rmSync(file); symlinkSync(real, file); },
      },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
        const ns = await lab.addNetns();
        write(c.text ? c.text(nic, ns) : `attachments:\n  - {container: "netns:${ns}", nic: ${nic}, addresses: [192.168.1.4/24]}\n`);
        c.setup?.();
        const before = await Promise.all([lab.snapshot(lab.host), lab.snapshot(ns)]);
        const r = await apply();
        expect(r.exitCode).toBe(2);
        expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^hostnic: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}${c.line ? `:${c.line}` : ''}: `));
        expect(r.stderr).toMatch(c.message);
        expect(await Promise.all([lab.snapshot(lab.host), lab.snapshot(ns)])).toEqual(before);
        expect(lstatSync(lab.stateDir).isDirectory()).toBe(true);
      });
    }
  });
});
