/**
 * src/incomplete.ts incompleteProblem: the note a detach leaves when it
 * brought a NIC home without all of its host settings is validated before
 * `hostnic status` shows it or `recover --abandon` clears it. Pure.
 */
import { describe, expect, it } from 'vitest';
import { incompleteProblem, loadIncomplete, writeIncomplete } from '../../src/incomplete.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateDir } from '../../src/state.js';

const note = (more: Record<string, unknown> = {}): Record<string, unknown> => ({
  schema: 2, kind: 'incomplete', id: '0a1b2c3d', createdAt: '2026-01-01T00:00:00.000Z', nic: 'nic1', target: 'cni:net/0123456789ab',
  cni: { containerId: '0123456789abcdef', network: 'net', ifname: 'net1' },
  notDone: [{
    title: 'Restore 1 route through nic1', error: 'Error: Nexthop has invalid gateway.\n',
    commands: ['ip route add 203.0.113.0/24 via 192.168.1.1 dev nic1', "ip -batch - <<'EOF'\nroute add 1.2.3.0/24 dev nic1\nEOF"],
  }],
  ...more,
});

describe('incomplete restores (src/incomplete.ts)', () => {
  it('a note as detach writes it passes, with or without its CNI identity; commands and errors may span lines', () => {
    expect(incompleteProblem(note(), '0a1b2c3d.json')).toBeUndefined();
    const { cni: _c, ...plain } = note();
    expect(incompleteProblem(plain, '0a1b2c3d.json')).toBeUndefined();
  });

  it('refuses what hostnic would not write, naming where', () => {
    const cases: [unknown, string, RegExp][] = [
      [note(), '0a1b2c3e.json', /^id: 0a1b2c3d is not the file's own name/],
      [note({ id: '../x' }), '../x.json', /^id: .* is not a hex id/],
      [note({ kind: 'attachment' }), '0a1b2c3d.json', /^kind: /],
      [note({ nic: 'a b' }), '0a1b2c3d.json', /^nic: .* not a valid interface name/],
      [note({ extra: 1 }), '0a1b2c3d.json', /unknown field "extra"/],
      [note({ notDone: [] }), '0a1b2c3d.json', /^notDone: empty/],
      [note({ notDone: [{ title: 't', error: 'e', commands: ['ip link \u001b[2J'] }] }), '0a1b2c3d.json', /^notDone\[0\]\.commands\[0\]: holds a control character/],
      [note({ notDone: [{ title: 'two\nlines', error: 'e', commands: [] }] }), '0a1b2c3d.json', /^notDone\[0\]\.title: holds a control character/],
      [note({ notDone: [{ title: 't', error: 7, commands: [] }] }), '0a1b2c3d.json', /^notDone\[0\]\.error: not a string/],
      [note({ cni: { containerId: 'x', network: 'n' } }), '0a1b2c3d.json', /^cni: has no ifname/],
    ];
    for (const [v, name, re] of cases) expect(incompleteProblem(v, name)).toMatch(re);
  });
});

describe('a note with more lines than it may hold', () => {
  it('is merged by step and chunked, so it can still be read back and cleared', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostnic-incomplete-'));
    try {
      const state = new StateDir(dir);
      // 300 failed route restores of one step, and 300 of another: one line per command as the runner makes them.
      const lines = [1, 2].flatMap((s) => Array.from({ length: 300 }, (_, k) => ({ title: `Restore routes ${s}`, error: 'Nexthop has invalid gateway', commands: [`ip route add 10.${s}.${k >> 8}.${k & 255}/32 via 192.168.9.1 dev nic1`] })));
      writeIncomplete(state, { id: '0a1b2c3d', nic: 'nic1', target: 'pid:1', notDone: lines });
      const { notes, bad } = loadIncomplete(state);
      expect(bad).toEqual([]);
      expect(notes[0]!.notDone.map((l) => [l.title, l.commands.length])).toEqual([
        ...[64, 64, 64, 64, 44].map((n) => ['Restore routes 1', n]), ...[64, 64, 64, 64, 44].map((n) => ['Restore routes 2', n]),
      ]);
      expect(notes[0]!.notDone.flatMap((l) => l.commands)).toEqual(lines.flatMap((l) => l.commands));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
