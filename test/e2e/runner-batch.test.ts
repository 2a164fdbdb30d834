/**
 * The runner's batched path (several `ip` steps of one namespace in one
 * `ip -batch` process), with real kernel failures half-way through a batch,
 * in-process. The test hooks run on this same path (test/README.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createLab, requireRoot, snapshot, type Lab } from '../helpers/lab.js';
import { comparable } from '../helpers/hostnic.js';
import { BatchError, runBatch, type Cmd } from '../../src/exec.js';
import { Runner, type Plan } from '../../src/runner.js';
import { Locks } from '../../src/runner/locks.js';
import { StateDir } from '../../src/state.js';
import type { StepSpec } from '../../src/steps/types.js';
import type { LinkAttrs } from '../../src/steps/link.js';

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

  it('a plan whose journal recover would refuse is never started: it throws before any step, no journal, nothing changed', async () => {
    const state = new StateDir(stateRoot);
    state.ensure();
    const steps: StepSpec[] = [
      { kind: 'link.set', id: 'mtu', title: 'MTU 1400', params: { ns: nsPath, from: { name: 'v1', mtu: 1500 }, to: { mtu: 1400 } } },
      // An alias with a line break: one `ip -batch` line would become two.
      { kind: 'link.set', id: 'alias', title: 'alias', params: { ns: nsPath, from: { name: 'v1', alias: 'before' }, to: { alias: 'x\nlink del v1' } } },
    ];
    const plan: Plan = { id: 'bad0b1a0', command: 'test', title: 'bad plan', steps, touches: ['v1'], finalize: {} };
    const locks = new Locks(state);
    await locks.take(plan.touches);
    const before = await snapshot(ns);
    try {
      await expect(new Runner({ state, renderer: 'silent', locks }).run(plan)).rejects.toThrow(/^internal: plan "bad plan" would not be recoverable: .*alias: holds a control character/);
    } finally {
      locks.release();
    }
    expect(readdirSync(state.journalDir, { withFileTypes: true }).filter((e) => e.name.endsWith('.json'))).toEqual([]);
    expect(await snapshot(ns)).toEqual(before);
  });

  it('undoes the steps before the failure, never runs the ones after, exit 1, no journal left', async () => {
    const set = (title: string, to: LinkAttrs, from: LinkAttrs): StepSpec => ({
      kind: 'link.set', id: title.replace(/[^A-Za-z0-9]+/g, '-'), title, params: { ns: nsPath, from: { name: 'v1', ...from }, to },
    });
    const steps: StepSpec[] = [
      set('MTU 1400', { mtu: 1400 }, { mtu: 1500 }),
      set('alias changed', { alias: 'during' }, { alias: 'before' }),
      // The kernel refuses this one: no such link.
      { kind: 'link.set', id: 'nosuch', title: 'a link that is not there', params: { ns: nsPath, from: { name: 'nosuch', up: false }, to: { up: true } } },
      set('MTU 1300 (never runs)', { mtu: 1300 }, { mtu: 1400 }),
    ];
    const state = new StateDir(stateRoot);
    state.ensure();
    const plan: Plan = { id: 'ba7c4e57', command: 'test', title: 'batch', steps, touches: ['v1'], finalize: {} };
    // The runner runs a plan only under the locks of what it touches.
    const locks = new Locks(state);
    await locks.take(plan.touches);
    // Every link change the kernel makes in the namespace while the plan runs, and every command with its input.
    const events = await monitorLinks();
    const before = await snapshot(ns);
    const traced: string[] = [];
    const inputs: (string | undefined)[] = [];
    const { execConfig } = await import('../../src/exec.js');
    execConfig.trace = (e) => {
      traced.push(e.cmd.argv.join(' '));
      inputs.push(e.cmd.input);
    };
    let outcome: Awaited<ReturnType<Runner['run']>>;
    let seen: string;
    try {
      outcome = await new Runner({ state, renderer: 'silent', locks }).run(plan);
    } finally {
      execConfig.trace = undefined;
      locks.release();
      seen = await events.stop();
    }
    const after = await snapshot(ns);

    expect(outcome.exitCode).toBe(1);
    expect(outcome.error?.message).toMatch(/Cannot find device "nosuch"/);
    expect(outcome.leftovers).toEqual([]);
    // One process ran the four steps' commands up to the failure.
    expect(traced[0]).toBe('ip -batch -');
    // ip -batch (no -force) stops at the failing line, the third; after it only the undo of the two before ran.
    expect(inputs[0]).toBe('link set dev v1 mtu 1400\nlink set dev v1 alias during\nlink set dev nosuch up\nlink set dev v1 mtu 1300\n');
    const later = traced.slice(1).map((c, k) => `${c}\n${inputs[k + 1] ?? ''}`).join('\n');
    expect(later).not.toContain('mtu 1300');
    expect(later).not.toContain('nosuch');
    // What the kernel did to v1, change by change: step 0 (1400), then its undo (1500); never 1300.
    const mtus = seen.split('\n').filter((l) => /^\d+: v1@/.test(l)).map((l) => /\bmtu (\d+)\b/.exec(l)?.[1]);
    expect(mtus).toEqual(['1400', '1500']);
    const v1 = await link('v1');
    expect(v1.mtu).toBe(1500);
    expect(v1.ifalias).toBe('before');
    expect(readdirSync(state.journalDir)).toEqual([]);
    expect(after).toEqual(before);
  });
});

describe.skipIf(!root)('the test hooks run on the batched path (the one production takes)', () => {
  let lab: Lab;
  // No IPv6 DAD (LabOptions.dad): nothing here is about DAD, and every snapshot after a NIC came up or back would wait for it.
  beforeAll(async () => { lab = await createLab({ dad: false }); });
  afterAll(async () => { await lab?.destroy(); });

  /** The `ip -batch -` processes a --verbose run traced, each with its input lines. */
  const batchesOf = (stderr: string): string[][] => [...stderr.matchAll(/ip -batch - <<'EOF'\n([\s\S]*?)\nEOF/g)]
    .map((m) => m[1]!.split('\n').map((l) => l.replace(/\/id=\w+\//, '/id=*/'))); // the tag's id differs from one attach to the next

  it('hooks on: the same batches as without them; HOSTNIC_TEST_FAIL=N is a line inside step N\'s batch, right after its commands, and the later lines never run', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.9/24'] });
    const ctr = await lab.addContainer();
    const hostBefore = comparable(await lab.snapshot(lab.host));
    const ctrBefore = comparable(await lab.snapshot(ctr.nsPath));
    const args = ['attach', `pid:${ctr.pid}`, nic, '192.168.1.90/24@192.168.1.1', 'fd00:1::90/64', '--mtu', '1400', '--verbose'];
    const plain = await lab.hostnic(args);
    expect(plain.exitCode, plain.stderr).toBe(0);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
    const hooked = await lab.hostnic(args, { env: { HOSTNIC_TEST_HOOKS: '1' } });
    expect(hooked.exitCode, hooked.stderr).toBe(0);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`])).exitCode).toBe(0);
    const production = batchesOf(plain.stderr);
    expect(production.length).toBeGreaterThan(0);
    expect(batchesOf(hooked.stderr)).toEqual(production);

    // A step in the middle of a batch of several lines: the IPv4 address in the container.
    const plan = JSON.parse((await lab.hostnic([...args.slice(0, -1), '--dry-run', '--json'])).stdout) as { plan: { steps: { commands: string[] }[] } };
    const n = plan.plan.steps.findIndex((st) => st.commands.some((c) => c.includes('addr add 192.168.1.90/24')));
    const batch = production.find((b) => b.some((l) => l.includes('addr add 192.168.1.90/24')))!;
    // The last line of that step's own commands (the step adds both addresses).
    const own = plan.plan.steps[n]!.commands;
    const at = Math.max(...batch.map((l, k) => (own.some((c) => c.endsWith(` ip ${l}`)) ? k : -1)));
    expect(batch[at]).toMatch(/^addr add /);
    expect(at, 'the step is not the last line of its batch').toBeLessThan(batch.length - 1);
    const failed = await lab.hostnic(args, { env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: String(n) } });
    expect(failed.exitCode, failed.stderr).toBe(1);
    expect(failed.stderr).toMatch(/Cannot find device "hostnic-test-fault"/);
    const withFault = batchesOf(failed.stderr).find((b) => b.some((l) => l.includes('addr add 192.168.1.90/24')))!;
    expect(withFault).toEqual([...batch.slice(0, at + 1), 'link set dev hostnic-test-fault up', ...batch.slice(at + 1)]);
    // The rollback put both namespaces back, and nothing is left in the state directory.
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(ctrBefore);
    expect(readdirSync(join(lab.stateDir, 'journal'))).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
  });
});

/**
 * `ip -o monitor link` in the test namespace: one line per link change.
 * Ready when this resolves, and complete when stop() resolves: each waits for
 * a marker of its own to come through (a veth pair made and deleted again,
 * which leaves nothing behind). stop() returns what came between the two.
 */
async function monitorLinks(): Promise<{ stop(): Promise<string> }> {
  const child: ResultPromise = execa('ip', ['-n', ns, '-o', 'monitor', 'link'], { reject: false, buffer: false });
  let out = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => (out += d));
  const mark = async (name: string): Promise<number> => {
    const deadline = Date.now() + 5000;
    const deleted = new RegExp(`^Deleted \\d+: ${name}[@:]`, 'm');
    await ip('link', 'add', 'name', name, 'type', 'veth', 'peer', 'name', `${name}p`);
    await ip('link', 'delete', 'dev', name);
    while (!deleted.test(out)) {
      if (Date.now() > deadline) throw new Error(`ip monitor did not report ${name}: ${JSON.stringify(out)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    return out.search(new RegExp(`^\\d+: ${name}`, 'm')); // its first line: the pair's peer appearing
  };
  await mark('hnbmark0');
  const from = out.length;
  return {
    async stop() {
      const to = await mark('hnbmark1');
      child.kill('SIGTERM');
      await child;
      return out.slice(from, to);
    },
  };
}
