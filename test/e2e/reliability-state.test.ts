/**
 * The state directory: modes and ownership, corrupted and foreign files, and
 * the refusal to run without root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chownSync, chmodSync, mkdirSync, readdirSync, statSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, createLab, requireRoot, run, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, pausedAt, resume } from '../helpers/hostnic.js';
import { attachmentFiles, expectOneError, journalFiles, HOOKS } from './reliability-helpers.js';

const root = requireRoot();

const mode = (p: string): number => statSync(p).mode & 0o777;

/** Every file and directory under `dir`, relative, with its mode. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      out[`${rel}${e.name}${e.isDirectory() ? '/' : ''}`] = mode(p).toString(8);
      if (e.isDirectory()) walk(p, `${rel}${e.name}/`);
    }
  };
  walk(dir, '');
  return out;
}

describe.skipIf(!root)('the state directory', () => {
  let lab: Lab;
  let nicA: string;
  let nicB: string;
  let ctrA: Proc;
  let ctrB: Proc;
  let hostBefore: Snapshot;
  let ctrABefore: Snapshot;

  beforeAll(async () => {
    // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    // nicA: only what the tag on the NIC carries (name, MAC, MTU, alias, up), so a detach without its record restores it whole.
    nicA = await lab.addNic({ mtu: 1480, alias: 'tagged only' });
    nicB = await lab.addNic({ addrs: ['10.50.0.6/24'] });
    ctrA = await lab.addContainer();
    ctrB = await lab.addContainer();
    hostBefore = await lab.snapshot(lab.host);
    ctrABefore = await lab.snapshot(ctrA.nsPath);
  });
  afterAll(async () => { await lab?.destroy(); });

  it('is created 0700 with 0600 files, root-owned, journals included; an existing directory is never chmod-ed', async () => {
    const dir = join(lab.stateDir, 'fresh', 'hostnic');
    const env = { HOSTNIC_STATE_DIR: dir, ...HOOKS, HOSTNIC_TEST_PAUSE: 'after:3' };
    const child = lab.spawnHostnic(['attach', `pid:${ctrA.pid}`, nicA, '192.168.1.70/24'], { env });
    await pausedAt(dir, 'after:3');
    const during = modes(dir);
    resume(dir);
    const { waitForExit } = await import('../helpers/lab.js');
    expect((await waitForExit(child)).exitCode).toBe(0);
    const [journal] = Object.keys(during).filter((k) => k.startsWith('journal/') && k.endsWith('.json'));
    expect(journal).toBeDefined();
    // The lock files of what the attach holds: the NIC's name and MAC, the container's namespace.
    const locks = Object.keys(during).filter((k) => k.startsWith('locks/') && k !== 'locks/');
    expect(locks).toHaveLength(3);
    expect(during).toEqual({
      'attachments/': '700', 'journal/': '700', [journal!]: '600', 'locks/': '700', ...Object.fromEntries(locks.map((l) => [l, '600'])), 'test-paused': '600',
    });
    const after = modes(dir);
    const [record] = Object.keys(after).filter((k) => k.startsWith('attachments/') && k.endsWith('.json'));
    // Let go on the way out: no lock file left.
    expect(after).toEqual({ 'attachments/': '700', 'journal/': '700', [record!]: '600', 'locks/': '700' });
    expect(mode(dir)).toBe(0o700);
    for (const f of ['', 'locks', record!]) expect(statSync(join(dir, f)).uid).toBe(0);

    // A directory someone made readable: used as it is, never chmod-ed (a writable one is refused: identity.test.ts).
    chmodSync(dir, 0o755);
    const d = await lab.hostnic(['detach', `pid:${ctrA.pid}`], { env: { HOSTNIC_STATE_DIR: dir } });
    expect(d.exitCode, d.stderr).toBe(0);
    expect(mode(dir)).toBe(0o755);
    expect(mode(join(dir, 'attachments'))).toBe(0o700);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('refuses a state directory that another user owns (it could have planted records)', async () => {
    const dir = join(lab.stateDir, 'foreign');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, 65534, 65534);
    const r = await lab.hostnic(['attach', `pid:${ctrA.pid}`, nicA, '192.168.1.71/24'], { env: { HOSTNIC_STATE_DIR: dir } });
    expect(r.exitCode).toBe(2);
    expectOneError(r, 'foreign owner', new RegExp(`^hostnic: state directory ${dir} is owned by uid 65534, not root`));
    expect(readdirSync(dir)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    rmSync(dir, { recursive: true });
  });

  it('a corrupted attachment record and a foreign file: status lists the good ones and names the bad files; detach works from the tag on the NIC', async () => {
    const a = await lab.hostnic(['attach', `pid:${ctrA.pid}`, nicA, '192.168.1.72/24', '--mac', '02:00:00:00:00:72', '--mtu', '1400']);
    expect(a.exitCode, a.stderr).toBe(0);
    const recA = attachmentFiles(lab)[0]!;
    expect((await lab.hostnic(['attach', `pid:${ctrB.pid}`, nicB, '192.168.1.73/24'])).exitCode).toBe(0);
    const fileA = join(lab.stateDir, 'attachments', recA);
    writeFileSync(fileA, readFileSync(fileA, 'utf8').slice(0, 100), { mode: 0o600 }); // cut short: a torn write from elsewhere
    const foreign = join(lab.stateDir, 'attachments', 'zz-foreign.json');
    writeFileSync(foreign, JSON.stringify({ schema: 99, kind: 'attachment', id: 'x' }), { mode: 0o600 });

    const s = await lab.hostnic(['status', '--json']);
    expect(s.exitCode, s.stderr).toBe(0);
    const doc = JSON.parse(s.stdout) as { attachments: { nic: string; status: string }[]; unreadable: { file: string; error: string }[] };
    // B from its record; A, whose record is unreadable, found by the tag on its NIC.
    expect(doc.attachments).toEqual([
      expect.objectContaining({ nic: nicB, status: 'in place' }),
      expect.objectContaining({ nic: nicA, status: 'untracked', target: `pid:${ctrA.pid}` }),
    ]);
    expect(doc.unreadable).toEqual([
      { file: fileA, error: expect.stringMatching(/^unreadable: /) },
      { file: foreign, error: 'written by a hostnic with state schema 99; this hostnic reads schema 2' },
    ]);
    const text = await lab.hostnic(['status']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`pid:${ctrB.pid} +${nicB} +eth1 `));
    expect(text.stderr).toContain(`hostnic: ignoring ${fileA}: unreadable: `);
    expect(text.stderr).toContain(`hostnic: ignoring ${foreign}: written by a hostnic with state schema 99; this hostnic reads schema 2`);

    // detach of A: no readable record, but the tag on the NIC says who it is.
    const d = await lab.hostnic(['detach', `pid:${ctrA.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stdout).toMatch(new RegExp(`detached ${nicA} from /proc/${ctrA.pid}/ns/net|detached ${nicA} from pid:${ctrA.pid}`));
    const host = comparable(await lab.snapshot(lab.host));
    expect(host.links.find((l) => l.ifname === nicA)).toEqual(comparable(hostBefore).links.find((l) => l.ifname === nicA));
    expect(comparable(await lab.snapshot(ctrA.nsPath))).toEqual(comparable(ctrABefore));
    // The corrupted record was A's: gone with the detach. The foreign file is left alone.
    expect(attachmentFiles(lab).sort()).toEqual([attachmentFiles(lab).find((f) => f !== 'zz-foreign.json')!, 'zz-foreign.json'].sort());
    expect(attachmentFiles(lab)).not.toContain(recA);
    rmSync(foreign);
    expect((await lab.hostnic(['detach', `pid:${ctrB.pid}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('a journal write cut short by SIGKILL (its temp file, no journal): recover removes the temp file of the dead writer, a live one\'s stays', async () => {
    // A pid no process has: one past the kernel's pid_max.
    const dead = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')) + 1;
    const journal = join(lab.stateDir, 'journal');
    mkdirSync(journal, { recursive: true, mode: 0o700 });
    const deadTmp = join(journal, `85102718.json.${dead}.tmp`);
    const liveTmp = join(journal, `85102719.json.${process.pid}.tmp`);
    writeFileSync(deadTmp, '{"schema":2,', { mode: 0o600 });
    writeFileSync(liveTmp, '{"schema":2,', { mode: 0o600 });
    const r = await lab.hostnic(['recover']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('nothing to recover\n');
    expect(readdirSync(journal).sort()).toEqual([`85102719.json.${process.pid}.tmp`]);
    rmSync(liveTmp);
  });

  it('a corrupted journal: recover says which file and exits 1 (also with good journals next to it); status names it; attach and detach still work', async () => {
    const bad = join(lab.stateDir, 'journal', '0badf00d.json');
    writeFileSync(bad, '{"schema":1,"id":"0badf00d","steps":[{"spec":', { mode: 0o600 });

    const s = await lab.hostnic(['status', '--json']);
    expect(s.exitCode, s.stderr).toBe(0);
    const doc = JSON.parse(s.stdout) as { unreadable: { file: string }[] };
    expect(doc.unreadable.map((u) => u.file)).toContain(bad);
    const text = await lab.hostnic(['status']);
    expect(text.exitCode).toBe(0);
    expect(text.stderr).toContain(bad);

    const r = await lab.hostnic(['recover']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hostnic: cannot read ${bad}: unreadable: .*move it aside`, 'm'));
    expect(r.stdout).toBe('nothing to recover\n');

    // attach works (warning about the file), and is interrupted by a crash: now recover has a good journal and a bad one.
    const child = lab.spawnHostnic(['attach', `pid:${ctrA.pid}`, nicA, '192.168.1.74/24'], { env: { ...HOOKS, HOSTNIC_TEST_PAUSE: 'after:2' } });
    await pausedAt(lab.stateDir, 'after:2');
    const { crash } = await import('./reliability-helpers.js');
    await crash(child);
    expect(journalFiles(lab)).toHaveLength(2);
    // status shows the plan the dead process left, and the file it cannot read.
    const during = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { unfinished: { title: string; running: boolean }[]; unreadable: { file: string }[] };
    expect(during.unfinished).toEqual([expect.objectContaining({ title: expect.stringMatching(/^Attach /), running: false })]);
    expect(during.unreadable.map((u) => u.file)).toEqual([bad]);
    expect((await lab.hostnic(['status'])).stderr).toMatch(/^hostnic: unfinished plan [0-9a-f]+: Attach .*; run `hostnic recover` \(or, if you settled it by hand, `hostnic recover --abandon [0-9a-f]+`\)$/m);
    const both = await lab.hostnic(['recover']);
    expect(both.stdout).toMatch(/^rolled back: Attach /m);
    expect(both.stderr).toContain(`cannot read ${bad}`);
    expect(both.exitCode).toBe(1); // something is still unrecovered: not a success
    expect(journalFiles(lab)).toEqual(['0badf00d.json']);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));

    const a = await lab.hostnic(['attach', `pid:${ctrA.pid}`, nicA, '192.168.1.74/24']);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(a.stderr).toContain(bad);
    const d = await lab.hostnic(['detach', `pid:${ctrA.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    rmSync(bad);
  });

  it('not root: exit 2 with exactly the message, before anything else', async () => {
    for (const args of [['status'], ['recover'], ['attach', 'pid:1', 'nic1', '192.168.1.4/24'], ['detach', 'pid:1']]) {
      const r = await run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNIC_STATE_DIR: lab.stateDir, NO_COLOR: '1' },
      });
      expect.soft(r.exitCode, args.join(' ')).toBe(2);
      expect.soft(r.stderr, args.join(' ')).toBe('hostnic: hostnic must run as root (it moves network devices between namespaces)\n');
      expect.soft(r.stdout, args.join(' ')).toBe('');
    }
    expect(journalFiles(lab)).toEqual([]);
  });
});
