/**
 * `hostnic recover --abandon PLAN`: for a plan a person settled by hand. It
 * drops the journal (the NIC is no longer blocked), changes nothing on the
 * system, says what it dropped; it refuses an unknown id and a plan whose
 * hostnic still runs. `hostnic status` lists unfinished plans with their ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, requireRoot, waitForExit, type Lab, type Proc } from '../helpers/lab.js';
import { comparable, resume } from '../helpers/hostnic.js';
import { attachmentFiles, crash, expectOneError, journalFiles, startPaused, theJournal } from './reliability-helpers.js';

const root = requireRoot();

describe.skipIf(!root)('recover --abandon', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  const attach = (): string[] => ['attach', `pid:${ctr.pid}`, nic, '192.168.1.30/24@192.168.1.1'];

  beforeAll(async () => {
    lab = await createLab();
    nic = await lab.addNic({ addrs: ['10.50.0.3/24'], alias: 'abandon' });
    ctr = await lab.addContainer();
  });
  afterAll(async () => { await lab?.destroy(); });

  const state = async () => ({ host: comparable(await lab.snapshot(lab.host)), ctr: comparable(await lab.snapshot(ctr.nsPath)) });

  it('drops the journal of a dead plan, changes nothing, and the NIC is free again', async () => {
    // Killed half-way: the host addresses are off, the NIC is down (a person then settles it by hand).
    const child = await startPaused(lab, attach(), 'after:1');
    const { id } = theJournal(lab);
    await crash(child);
    const s = await lab.hostnic(['status']);
    expect(s.stderr).toContain(`hostnic: unfinished plan ${id}: Attach ${nic}`);
    expect(s.stderr).toContain(`\`hostnic recover --abandon ${id}\``);
    const blocked = await lab.hostnic(attach());
    expect(blocked.exitCode).toBe(1);

    const before = await state();
    const dry = await lab.hostnic(['recover', '--abandon', id, '--dry-run']);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^would abandon: Attach /);
    expect(journalFiles(lab)).toEqual([`${id}.json`]);

    const r = await lab.hostnic(['recover', '--abandon', id]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^abandoned: Attach ${nic} .*\\(left by pid \\d+ at .*\\); its journal is removed, nothing on the system was changed\n  it had started \\(as you settled them\\): `));
    expect(journalFiles(lab)).toEqual([]);
    expect(await state()).toEqual(before);
    expect(attachmentFiles(lab)).toEqual([]);
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout)).toMatchObject({ unfinished: [] });
    expect(await lab.hostnic(['recover'])).toMatchObject({ exitCode: 0, stdout: 'nothing to recover\n' });

    // The person's settling: the NIC up with its address again; then it attaches as any free NIC.
    await lab.inNs(lab.host, ['ip', 'addr', 'add', '10.50.0.3/24', 'dev', nic]);
    await lab.inNs(lab.host, ['ip', 'link', 'set', 'dev', nic, 'up']);
    const a = await lab.hostnic(attach());
    expect(a.exitCode, a.stderr).toBe(0);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
  });

  it('refuses (exit 2, nothing changed) an id that is not an unfinished plan, and a plan whose hostnic is still running', async () => {
    for (const bad of ['deadbeef', '../journal/x', 'x']) {
      const r = await lab.hostnic(['recover', '--abandon', bad]);
      expect(r.exitCode, bad).toBe(2);
      expectOneError(r, bad, bad === 'deadbeef' ? /^hostnic: no unfinished plan or incomplete restore deadbeef$/ : /is not a plan id/);
    }
    const child = await startPaused(lab, attach(), 'before:2');
    const { id } = theJournal(lab);
    const before = await state();
    const r = await lab.hostnic(['recover', '--abandon', id]);
    expect(r.exitCode).toBe(2);
    expectOneError(r, 'running', new RegExp(`^hostnic: plan ${id} \\(Attach .*\\) is still running \\(pid \\d+\\): not abandoning it$`));
    expect(journalFiles(lab)).toEqual([`${id}.json`]);
    expect(await state()).toEqual(before);
    resume(lab.stateDir);
    expect((await waitForExit(child)).exitCode).toBe(0);
    expect(attachmentFiles(lab)).toHaveLength(1);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
  });
});
