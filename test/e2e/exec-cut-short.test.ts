/**
 * A command killed before it finished (here: its timeout) may have done some
 * or all of its work, so the runner must undo its step in a rollback, not
 * count it as never run. exec.ts says so on the error: CommandError.cutShort,
 * and for a batch BatchError.unknown (it cannot say which line failed).
 */
import { describe, expect, it } from 'vitest';
import { BatchError, run as exec, runBatch } from '../../src/exec.js';
import { CommandError } from '../../src/errors.js';
import { requireRoot } from '../helpers/lab.js';

const root = requireRoot();

describe('commands cut short', () => {
  it('a command killed by its timeout is cut short; one that exits with a status, or never starts, is not', async () => {
    const killed = await exec({ argv: ['sleep', '5'], timeoutMs: 100 }).catch((e: unknown) => e);
    expect(killed).toBeInstanceOf(CommandError);
    expect((killed as CommandError).cutShort).toBe(true);
    expect((killed as CommandError).message).toMatch(/timed out after 100 ms/);
    const exited = await exec({ argv: ['false'] }).catch((e: unknown) => e);
    expect((exited as CommandError).cutShort).toBe(false);
    const missing = await exec({ argv: ['hostnic-no-such-program'] }).catch((e: unknown) => e);
    expect((missing as CommandError).cutShort).toBe(false);
  });

  it.skipIf(!root)('an ip batch killed before it said which line failed: any line from the first on may have run', async () => {
    // `ip monitor` in a batch never ends: the timeout kills the batch after `link show` ran.
    const err = await runBatch([
      { argv: ['ip', 'link', 'show', 'dev', 'lo'], timeoutMs: 300 },
      { argv: ['ip', 'monitor', 'link'] },
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect((err as BatchError).unknown).toBe(true);
    expect((err as BatchError).index).toBe(0);
  });
});
