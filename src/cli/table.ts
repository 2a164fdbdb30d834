/**
 * Text layout for people: the tables of `status` and `nics`, and the word
 * wrap of `doctor`. One renderer, so every table looks the same: columns two
 * spaces apart, each as wide as its widest cell, the last one not padded (no
 * trailing blanks).
 */
import wrapAnsi from 'wrap-ansi';

const GAP = '  ';

/**
 * The lines of a table, header first. Widths are measured on the plain text;
 * `style` may then colour a cell (row -1 is the header), after padding, so
 * colour never shifts a column.
 */
export function renderTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  style: (cell: string, row: number, col: number) => string = (cell) => cell,
): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const last = header.length - 1;
  const line = (cells: readonly string[], row: number) =>
    header.map((_h, c) => style(c === last ? (cells[c] ?? '') : (cells[c] ?? '').padEnd(widths[c]!), row, c)).join(GAP);
  return [line(header, -1), ...rows.map((r, i) => line(r, i))];
}

/**
 * Word-wrap `text` (its own line breaks kept) to `width` columns; lines after
 * the first start with `indent`. A word longer than `width` is not cut.
 */
export function wrap(text: string, width: number, indent: string): string {
  return wrapAnsi(text, width, { hard: false }).split('\n').join(`\n${indent}`);
}
