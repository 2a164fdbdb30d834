/**
 * Test-only hooks, active only when HOSTNIC_TEST_HOOKS=1 (see test/README.md).
 * They act on the production path: steps still share `ip -batch` processes,
 * a pause point only splits a batch at its own index, and a fault is a line
 * the kernel refuses inside the batch, right after the step's commands.
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cmd } from '../exec.js';
import type { StateDir } from '../state.js';

const on = process.env.HOSTNIC_TEST_HOOKS === '1';
const pauses = new Set(on ? (process.env.HOSTNIC_TEST_PAUSE ?? '').split(',').filter(Boolean) : []);

/** The command a fault runs: the kernel refuses it (no such link), a real failure after a real change. */
export const FAULT: Cmd = { argv: ['ip', 'link', 'set', 'dev', 'hostnic-test-fault', 'up'], partial: true };

export const hooks = {
  on,
  /**
   * Pause points: "before:N" / "after:N" (N = step index; "before:<number of
   * steps>" is after the last step, before the records are written),
   * "applying:N" (the journal says step N is applying, none of its commands
   * ran yet) and "undo:N" (in a rollback, before undoing step N): wait until
   * the marker file is removed.
   */
  async pause(state: StateDir, where: string): Promise<void> {
    if (!pauses.has(where)) return;
    const marker = join(state.root, 'test-paused');
    writeFileSync(marker, `${where} ${process.pid}\n`, { mode: 0o600 });
    while (existsSync(marker)) await delay(10);
  },
  /**
   * Must a batch start at step i? Only where a pause point sits between two
   * steps: before i, at "i is applying", or after i-1.
   */
  splitsAt(i: number): boolean {
    return pauses.has(`before:${i}`) || pauses.has(`applying:${i}`) || pauses.has(`after:${i - 1}`);
  },
  /**
   * Acknowledge a signal (<state>/test-signal, a line per signal), so a test
   * that signals a paused hostnic resumes it only once the signal is seen:
   * else the step can finish first and the signal land elsewhere.
   */
  signalled(state: StateDir, sig: NodeJS.Signals): void {
    if (on) appendFileSync(join(state.root, 'test-signal'), `${sig}\n`, { mode: 0o600 });
  },
  /** Is a fault asked for at step `index` (HOSTNIC_TEST_FAIL / HOSTNIC_TEST_UNDO_FAIL)? */
  fault(kind: 'FAIL' | 'UNDO_FAIL', index: number): boolean {
    return on && process.env[`HOSTNIC_TEST_${kind}`] === String(index);
  },
};

/** FAULT as a line of the batch that `cmd` is in: same namespace, same `ip` options. */
export function faultLike(cmd: Cmd): Cmd {
  const globals: string[] = [];
  for (const a of cmd.argv.slice(1)) {
    if (!a.startsWith('-')) break;
    globals.push(a);
  }
  return { ...FAULT, argv: ['ip', ...globals, ...FAULT.argv.slice(1)], ...(cmd.netns ? { netns: cmd.netns } : {}) };
}
