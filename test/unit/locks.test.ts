/** src/runner/locks.ts: flock(2) per key, in-process (two Locks are two holders: flock locks open file descriptions). */
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Locks } from '../../src/runner/locks.js';
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
});
