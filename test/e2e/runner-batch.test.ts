/**
 * The runner's batched path (several `ip` steps of one namespace in one
 * `ip -batch` process), with real kernel failures. The test hooks turn
 * batching off, so this path is tested here directly, in-process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { requireRoot } from '../helpers/lab.js';
import { BatchError, runBatch, type Cmd } from '../../src/exec.js';
import { Runner, type Plan } from '../../src/runner.js';
import { StateDir } from '../../src/state.js';
import type { StepSpec } from '../../src/steps/types.js';

const root = requireRoot();
const ns = `hnb-${randomBytes(3).toString('hex')}`;
const nsPath = `/run/netns/${ns}`;
const ip = (...args: string[]) => execa('ip', ['-n', ns, ...args]);
const link = async (name: string) => JSON.parse((await ip('-json', 'link', 'show', 'dev', name)).stdout)[0] as { mtu: number; ifalias?: string; flags: string[] };

describe.skipIf(!root)('ip -batch execution', () => {
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]);
    await ip('link', 'add', 'name', 'v1', 'type', 'veth', 'peer', 'name', 'v2');
  });
  afterAll(async () => { await execa('ip', ['netns', 'delete', ns], { reject: false }); });

  const cmd = (...argv: string[]): Cmd => ({ argv: ['ip', ...argv], netns: nsPath });

  it('stops at the failing command and says which; the ones before ran, the ones after did not', async () => {
    const err = await runBatch([cmd('link', 'set', 'dev', 'v1', 'mtu', '1400'), cmd('link', 'set', 'dev', 'nosuch', 'up'), cmd('link', 'set', 'dev', 'v1', 'mtu', '1300')])
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(BatchError);
    expect((err as BatchError).index).toBe(1);
    expect((err as BatchError).message).toMatch(/ip link set dev nosuch up: Cannot find device "nosuch"/);
    expect((await link('v1')).mtu).toBe(1400);
    await ip('link', 'set', 'dev', 'v1', 'mtu', '1500');
  });

  it('a tolerated failure lets the rest run', async () => {
    await runBatch([cmd('link', 'set', 'dev', 'v1', 'mtu', '1450'), { ...cmd('link', 'set', 'dev', 'nosuch', 'up'), tolerate: /Cannot find device/ }, cmd('link', 'set', 'dev', 'v1', 'mtu', '1460')]);
    expect((await link('v1')).mtu).toBe(1460);
    await ip('link', 'set', 'dev', 'v1', 'mtu', '1500');
  });
});

describe.skipIf(!root)('runner: a batch that fails half-way is rolled back exactly', () => {
  const stateRoot = mkdtempSync(join(tmpdir(), 'hostnic-batch-'));
  beforeAll(async () => {
    await execa('ip', ['netns', 'add', ns]).catch(() => undefined);
    await ip('link', 'add', 'name', 'v1', 'type', 'veth', 'peer', 'name', 'v2').catch(() => undefined);
    await ip('link', 'set', 'dev', 'v1', 'mtu', '1500', 'alias', 'before');
  });
  afterAll(async () => {
    await execa('ip', ['netns', 'delete', ns], { reject: false });
    rmSync(stateRoot, { recursive: true, force: true });
  });

  it('undoes the steps before the failure, never runs the ones after, exit 1, no journal left', async () => {
    const set = (title: string, to: Record<string, unknown>, from: Record<string, unknown>): StepSpec => ({
      kind: 'link.set', title, params: { ns: nsPath, from: { name: 'v1', ...from }, to },
    });
    const steps: StepSpec[] = [
      set('MTU 1400', { mtu: 1400 }, { mtu: 1500 }),
      set('alias changed', { alias: 'during' }, { alias: 'before' }),
      // The kernel refuses this one: no such link.
      { kind: 'link.set', title: 'a link that is not there', params: { ns: nsPath, from: { name: 'nosuch', up: false }, to: { up: true } } },
      set('MTU 1300 (never runs)', { mtu: 1300 }, { mtu: 1400 }),
    ];
    const state = new StateDir(stateRoot);
    state.ensure();
    const plan: Plan = { id: 'batchtest', command: 'test', title: 'batch', steps, touches: ['v1'], finalize: {} };
    const traced: string[] = [];
    const { execConfig } = await import('../../src/exec.js');
    execConfig.trace = (e) => traced.push(e.cmd.argv.join(' '));
    const outcome = await new Runner({ state, renderer: 'silent' }).run(plan);
    execConfig.trace = undefined;

    expect(outcome.exitCode).toBe(1);
    expect(outcome.error?.message).toMatch(/Cannot find device "nosuch"/);
    expect(outcome.leftovers).toEqual([]);
    // One process ran the four steps' commands up to the failure.
    expect(traced[0]).toBe('ip -batch -');
    const v1 = await link('v1');
    expect(v1.mtu).toBe(1500);
    expect(v1.ifalias).toBe('before');
    expect(readdirSync(state.journalDir)).toEqual([]);
  });
});
