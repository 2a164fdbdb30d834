/**
 * The step kinds the doctor's fixes add: file.write (run for real in a temp
 * dir, no root needed) and the nmcli commands of nm.managed / nm.reload.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run } from '../../src/exec.js';
import { fileWrite, tempPathOf, type FileWriteParams } from '../../src/steps/file.js';
import { nmManaged, nmReload } from '../../src/steps/nm.js';
import { networkdReload } from '../../src/steps/networkd.js';
import { doCommands, undoCommands } from '../../src/steps/index.js';
import type { StepSpec } from '../../src/steps/types.js';

describe('file.write', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function apply(p: FileWriteParams) {
    const saved = await fileWrite.capture!(p);
    for (const c of fileWrite.apply(p, saved)) await run(c);
    return saved;
  }

  it('creates the file and its directories; undo removes both', async () => {
    const p = { path: join(dir, 'a', 'b', '90-hostnic.conf'), content: 'x = 1\n', mode: '0640' };
    const saved = await apply(p);
    expect(saved).toEqual({ existed: false, createdDirs: [join(dir, 'a'), join(dir, 'a', 'b')] });
    expect(readFileSync(p.path, 'utf8')).toBe('x = 1\n');
    expect(statSync(p.path).mode & 0o777).toBe(0o640);
    expect(existsSync(tempPathOf(p.path))).toBe(false);
    for (const c of fileWrite.undo(p, saved)) await run(c);
    expect(existsSync(join(dir, 'a'))).toBe(false);
  });

  it('replaces an existing file; undo restores content and mode exactly', async () => {
    const path = join(dir, 'conf');
    writeFileSync(path, 'old\ncontent\n');
    chmodSync(path, 0o600);
    const p = { path, content: 'new\n', mode: '0644' };
    const saved = await apply(p);
    expect(saved).toMatchObject({ existed: true, content: 'old\ncontent\n', mode: '0600', createdDirs: [] });
    expect(readFileSync(path, 'utf8')).toBe('new\n');
    for (const c of fileWrite.undo(p, saved)) await run(c);
    expect(readFileSync(path, 'utf8')).toBe('old\ncontent\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('undo keeps a directory someone else filled, and is harmless when run twice', async () => {
    const p = { path: join(dir, 'd', 'f.conf'), content: 'y\n', mode: '0644' };
    const saved = await apply(p);
    writeFileSync(join(dir, 'd', 'other.conf'), 'theirs\n');
    for (let i = 0; i < 2; i++) for (const c of fileWrite.undo(p, saved)) await run(c);
    expect(existsSync(p.path)).toBe(false);
    expect(readFileSync(join(dir, 'd', 'other.conf'), 'utf8')).toBe('theirs\n');
  });

  it('refuses relative paths and odd modes', () => {
    expect(() => fileWrite.apply({ path: 'rel', content: '', mode: '0644' }, undefined)).toThrow(/absolute/);
    expect(() => fileWrite.apply({ path: '/x', content: '', mode: 'rw' }, undefined)).toThrow(/octal/);
  });
});

describe('nm.managed and nm.reload', () => {
  it('sets managed no, and undo puts back what it was', () => {
    const p = { device: 'eth1', managed: false };
    expect(nmManaged.apply(p, true).map((c) => c.argv)).toEqual([['nmcli', 'device', 'set', 'eth1', 'managed', 'no']]);
    const undo = nmManaged.undo(p, true);
    expect(undo.map((c) => c.argv)).toEqual([['nmcli', 'device', 'set', 'eth1', 'managed', 'yes']]);
    expect(undo[0]!.tolerate!.test("Error: Device 'eth1' not found.")).toBe(true);
    expect(nmManaged.undo(p, false)).toEqual([]); // it was unmanaged already: leave no explicit setting
    expect(nmManaged.undo(p, undefined).map((c) => c.argv[5])).toEqual(['yes']);
  });
  it('reloads on apply and on undo, tolerating a stopped NetworkManager', () => {
    const [a] = nmReload.apply({}, undefined);
    const [u] = nmReload.undo({}, undefined);
    expect(a!.argv).toEqual(['nmcli', 'general', 'reload', 'conf']);
    expect(u!.argv).toEqual(a!.argv);
    expect(a!.tolerate!.test('Error: NetworkManager is not running.')).toBe(true);
  });
});

describe('networkd.reload', () => {
  it('runs `networkctl reload` on apply and on undo, tolerating a networkd that does not run; registered', () => {
    const [a] = networkdReload.apply({}, undefined);
    const [u] = networkdReload.undo({}, undefined);
    expect(a!.argv).toEqual(['networkctl', 'reload']);
    expect(u!.argv).toEqual(a!.argv);
    expect(a!.tolerate!.test('WARNING: systemd-networkd is not running, output will be incomplete.\n\nFailed to reload network settings: Unit dbus-org.freedesktop.network1.service not found.')).toBe(true);
    expect(a!.tolerate!.test('Failed to connect to bus: No such file or directory')).toBe(true);
    expect(a!.tolerate!.test('Failed to reload network settings: Access denied')).toBe(false);
    const step: StepSpec = { kind: 'networkd.reload', id: 'networkd.reload', title: 't', params: {} };
    expect(doCommands(step).map((c) => c.argv)).toEqual([['networkctl', 'reload']]);
    expect(undoCommands(step).map((c) => c.argv)).toEqual([['networkctl', 'reload']]);
  });
});
