/** src/runner/locks.ts: flock(2) per key, in-process (two Locks are two holders: flock locks open file descriptions). */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Locks } from '../../src/runner/locks.js';
import { processStart, unfinishedTouching } from '../../src/runner/journal.js';
import { recoverAll } from '../../src/cli/recover.js';
import { spawn } from 'node:child_process';
import { RefusedError } from '../../src/errors.js';
import { SCHEMA } from '../../src/state.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { StateDir } from '../../src/state.js';

const dirs: string[] = [];
function state(): StateDir {
  const d = mkdtempSync(join(tmpdir(), 'hostnic-locks-'));
  dirs.push(d);
  return new StateDir(d);
}
afterEach(() => { for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true }); });

describe('locks per key', () => {
  it('free keys are taken at once; a held key makes the other holder let go and wait, in order; release removes the files', async () => {
    const s = state();
    const a = new Locks(s);
    const b = new Locks(s);
    expect(await a.take(['eth2', 'aa:bb:cc:dd:ee:ff'])).toMatchObject({ waited: false });
    expect(a.keys()).toEqual(['aa:bb:cc:dd:ee:ff', 'eth2']);
    expect(await b.take(['ns:1:2'])).toMatchObject({ waited: false }); // another key: no waiting
    let got = false;
    const waiting = b.take(['eth2']).then((r) => { got = true; return r; });
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toBe(false);
    expect(b.keys()).toEqual([]); // it let go of ns:1:2 to wait in order
    a.release();
    expect(await waiting).toMatchObject({ waited: true });
    expect(b.keys()).toEqual(['eth2', 'ns:1:2']);
    expect(a.holds(['eth2'])).toBe(false);
    b.release();
    expect(readdirSync(join(s.root, 'locks'))).toEqual([]);
  });

  it('a key already held costs nothing; a file name is the key, encoded', async () => {
    const s = state();
    const a = new Locks(s);
    await a.take(['doctor:fix']);
    expect(existsSync(join(s.root, 'locks', 'doctor%3Afix'))).toBe(true);
    expect(await a.take(['doctor:fix'])).toEqual({ waited: false, ms: 0 });
    a.release();
  });

  it('a waiter that locked the file its holder removed takes the new one: never two holders of one key', async () => {
    const s = state();
    const a = new Locks(s);
    const b = new Locks(s);
    const c = new Locks(s);
    await a.take(['eth2']);
    const order: string[] = [];
    const bGot = b.take(['eth2']).then(() => { order.push('b'); });
    await new Promise((r) => setTimeout(r, 200));
    const cGot = c.take(['eth2']).then(() => { order.push('c'); });
    await new Promise((r) => setTimeout(r, 200));
    expect(order).toEqual([]);
    a.release(); // removes the file both waiters have open
    await Promise.race([bGot, cGot]);
    await new Promise((r) => setTimeout(r, 300));
    // One of them holds it, the other still waits (on the new file).
    expect(order.length).toBe(1);
    const first = order[0] === 'b' ? b : c;
    const second = order[0] === 'b' ? c : b;
    expect(first.holds(['eth2'])).toBe(true);
    expect(second.holds(['eth2'])).toBe(false);
    first.release();
    await Promise.all([bGot, cGot]);
    expect(second.holds(['eth2'])).toBe(true);
    second.release();
    expect(readdirSync(join(s.root, 'locks'))).toEqual([]);
  });

  it('a lock held past the timeout: refused, naming the key, and the waiter holds nothing', async () => {
    const s = state();
    const a = new Locks(s);
    const b = new Locks(s, 1);
    await a.take(['eth2']);
    await b.take(['ns:9:9']);
    const err = await b.take(['eth2']).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as Error).message).toBe('another hostnic has held the lock on eth2 for 1s');
    expect(b.keys()).toEqual([]);
    a.release();
  });
});

describe('unfinished plans on the identities a plan touches', () => {
  const journal = (id: string, touches: string[]) => ({
    schema: SCHEMA, id, command: 'attach', title: `attach ${touches[0]}`, pid: 1, pidStart: 1, startedAt: '', phase: 'apply',
    touches, locks: touches, finalize: {}, steps: [],
  });

  it('refuses on a shared identity; an empty one (a NIC without a MAC) names nothing', () => {
    const s = state();
    mkdirSync(s.journalDir, { recursive: true });
    writeFileSync(join(s.journalDir, 'aaaa0001.json'), JSON.stringify(journal('aaaa0001', ['tun0', ''])));
    expect(unfinishedTouching(s, ['tun1', ''])).toBeUndefined();
    expect(unfinishedTouching(s, ['tun0', ''])?.message).toMatch(/^an unfinished plan \(attach tun0, .*\) touches tun0$/);
    expect(unfinishedTouching(s, ['tun0'], 'aaaa0001')).toBeUndefined(); // its own journal
  });
});

describe('recover and a plan whose locks another holds', () => {
  const journal = (id: string, key: string, pid: number, pidStart: number) => ({
    schema: SCHEMA, id, command: 'attach', title: `attach ${key}`, pid, pidStart, startedAt: '', phase: 'apply', touches: [key], locks: [key], finalize: {}, steps: [],
  });

  it('a plan that runs on past the wait is left to its hostnic (exit 0), one whose locks are held by another is reported (exit 1); the others are still recovered', async () => {
    const s = state();
    mkdirSync(s.journalDir, { recursive: true });
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(s.journalDir, 'aaaa0001.json'), JSON.stringify(journal('aaaa0001', 'tun5', sleeper.pid!, processStart(sleeper.pid!)!)));
      const holder = new Locks(s);
      await holder.take(['tun5', 'tun6']);
      const busy: string[] = [];
      const alive = await recoverAll({ state: s, renderer: 'silent', locks: new Locks(s, 1) }, { busy: (j, why) => busy.push(`${j.id}: ${why}`) });
      expect(alive.exitCode).toBe(0);
      expect(busy).toEqual([`aaaa0001: still in progress (pid ${sleeper.pid})`]);
      // Its hostnic is dead, but someone holds its locks.
      writeFileSync(join(s.journalDir, 'aaaa0001.json'), JSON.stringify(journal('aaaa0001', 'tun6', 1, 1)));
      const held = await recoverAll({ state: s, renderer: 'silent', locks: new Locks(s, 1) }, { busy: (j, why) => busy.push(`${j.id}: ${why}`) });
      expect(held.exitCode).toBe(1);
      expect(busy[1]).toMatch(/^aaaa0001: another hostnic has held the lock on tun6 for 1s/);
      holder.release();
    } finally {
      sleeper.kill();
    }
  });
});
