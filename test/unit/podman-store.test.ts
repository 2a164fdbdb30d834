import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeMayHave } from '../../src/runtime/podman.js';

const root = mkdtempSync(join(tmpdir(), 'hostnic-podman-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('podman store index (no podman process for names it does not hold)', () => {
  it('is undefined when there is no index to read', () => {
    expect(storeMayHave('web', join(root, 'nothing'))).toBeUndefined();
  });
  it('answers from containers.json: names and id prefixes', () => {
    mkdirSync(join(root, 'overlay-containers'), { recursive: true });
    writeFileSync(join(root, 'overlay-containers', 'containers.json'), JSON.stringify([
      { id: 'a1b2c3d4e5f6' + '0'.repeat(52), names: ['web'] },
    ]));
    expect(storeMayHave('web', root)).toBe(true);
    expect(storeMayHave('a1b2c3', root)).toBe(true);
    expect(storeMayHave('db', root)).toBe(false);
  });
  it('is undefined for an index it cannot parse', () => {
    writeFileSync(join(root, 'overlay-containers', 'containers.json'), '{not json');
    expect(storeMayHave('web', root)).toBeUndefined();
  });
});
