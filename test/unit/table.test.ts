/** The one table renderer and the one word wrap (src/cli/table.ts), used by status, nics and doctor. */
import { describe, expect, it } from 'vitest';
import { renderTable, wrap } from '../../src/cli/table.js';

describe('renderTable', () => {
  it('aligns columns two spaces apart, as wide as their widest cell; the last column is not padded', () => {
    expect(renderTable(['NAME', 'MAC', 'ROLE'], [
      ['eth0', '52:54:00:12:34:56', 'primary'],
      ['nic10', '-', 'attached to docker:web as eth1'],
    ])).toEqual([
      'NAME   MAC                ROLE',
      'eth0   52:54:00:12:34:56  primary',
      'nic10  -                  attached to docker:web as eth1',
    ]);
  });

  it('a header wider than its cells sets the width; no rows: the header alone', () => {
    expect(renderTable(['TARGET', 'NIC'], [['p:1', 'n']])).toEqual(['TARGET  NIC', 'p:1     n']);
    expect(renderTable(['TARGET', 'NIC'], [])).toEqual(['TARGET  NIC']);
  });

  it('styles a cell after padding it, with its row (-1: the header) and column', () => {
    const seen: [string, number, number][] = [];
    const lines = renderTable(['A', 'B'], [['x', 'in place'], ['long', 'drifted']], (cell, row, col) => {
      seen.push([cell, row, col]);
      return col === 0 && row >= 0 ? `<${cell}>` : cell;
    });
    expect(lines).toEqual(['A     B', '<x   >  in place', '<long>  drifted']);
    expect(seen).toEqual([['A   ', -1, 0], ['B', -1, 1], ['x   ', 0, 0], ['in place', 0, 1], ['long', 1, 0], ['drifted', 1, 1]]);
  });
});

describe('wrap', () => {
  it('wraps at word boundaries to the width, keeps the text\'s own line breaks, indents the lines after the first', () => {
    expect(wrap('aaa bbb ccc\nddd', 7, '  ')).toBe('aaa bbb\n  ccc\n  ddd');
    const text = 'When two NICs share a subnet, the route back to a sender on it goes out one of them only.';
    const lines = wrap(text, 30, '    ').split('\n');
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.slice(1).every((l) => l.startsWith('    '))).toBe(true);
    expect(lines.every((l) => l.trimStart().length <= 30)).toBe(true);
    expect(lines.map((l) => l.trim()).join(' ')).toBe(text);
  });

  it('does not cut a word longer than the width (a path, a command)', () => {
    expect(wrap('see /etc/NetworkManager/conf.d/90-hostnic.conf now', 12, '')).toBe('see\n/etc/NetworkManager/conf.d/90-hostnic.conf\nnow');
  });

  it('measures coloured text by what shows', () => {
    const red = (s: string) => `\u001b[31m${s}\u001b[39m`;
    expect(wrap(`${red('aaa')} bbb ccc`, 7, '')).toBe(`${red('aaa')} bbb\nccc`);
  });
});
