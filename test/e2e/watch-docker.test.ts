/**
 * hostnic watch against a real Docker engine: the desired file's NIC comes
 * back after `docker restart`, `docker stop` + `start`, `docker kill` under
 * `--restart always`, a removed container replaced by one of the same name,
 * a watch SIGKILLed in the middle of an attach, a wiped state directory (a
 * reboot), and 16 containers restarted at once (dockerd itself restarting:
 * watch-dockerd-restart.test.ts, on a private daemon). Each case says which
 * NIC behaviour it covers (see watch-helpers.ts): "physical" cases move the
 * NIC back to the host the way the kernel does before Docker tears the
 * namespace down; "virtual" cases let it die with the namespace.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable, pausedAt } from '../helpers/hostnic.js';
import { ensureDocker, removeContainer, runContainer, uniqueName } from '../helpers/docker.js';
import { ADDR, MTU, attachedTo, desiredDir, expectAttached, returnToHost, startWatch, writeDesired, type Watch } from './watch-helpers.js';

const root = requireRoot();
const SPEC = `${ADDR}/24@192.168.1.1`;

async function docker(args: string[]): Promise<string> {
  return (await execa('docker', args)).stdout.trim();
}
const pidOf = async (name: string): Promise<number> => Number(await docker(['inspect', '--format', '{{.State.Pid}}', name]));
const nsOf = (pid: number) => `/proc/${pid}/ns/net`;

describe.skipIf(!root)('hostnic watch with Docker', () => {
  let lab: Lab;
  let dir: string;
  let file: string;
  let made: string[] = [];
  let watches: Watch[] = [];

  beforeAll(async () => {
    await ensureDocker();
  }, 180_000);
  beforeEach(async () => {
    made = [];
    watches = [];
    // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
    // DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    dir = desiredDir();
    file = join(dir, 'attachments.yaml');
  });
  afterEach(async () => {
    for (const w of watches) await w.stop();
    for (const name of made) await removeContainer(name).catch(() => undefined);
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const watch = (env: Record<string, string> = {}, extra: string[] = []): Watch => {
    const w = startWatch(lab, file, env, extra);
    watches.push(w);
    return w;
  };
  async function container(args: string[] = []): Promise<string> {
    const name = uniqueName('hnw');
    made.push(name);
    await runContainer(name, args);
    return name;
  }

  /** One container, one NIC (with a host address to give back), attached by watch. */
  async function setup(args: string[] = []) {
    const nic = await lab.addNic({ addrs: ['192.168.1.77/24'], mtu: 1500 });
    const name = await container(args);
    const hostBefore = comparable(await lab.snapshot(lab.host));
    writeDesired(file, [{ container: `docker:${name}`, nic, addresses: [SPEC], mtu: MTU }]);
    const w = watch();
    await w.until(attachedTo(`docker:${name}`));
    await expectAttached(lab, nsOf(await pidOf(name)));
    return { nic, name, hostBefore, w };
  }

  /** Stop watch, detach: the host as before the first attach. */
  async function finish(w: Watch, name: string, hostBefore: ReturnType<typeof comparable>): Promise<void> {
    const stopped = await w.stop();
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const r = await lab.hostnic(['detach', `docker:${name}`]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  }

  it('physical: docker restart, docker stop + start: back with its address, MTU, default route; ping; final detach restores the host', async () => {
    const { name, hostBefore, w } = await setup();
    for (const [i, cycle] of [['restart', '-t', '0'], ['stop', '-t', '0']].entries()) {
      await returnToHost(lab, nsOf(await pidOf(name)), 'eth1');
      await docker([...cycle, name]);
      if (cycle[0] === 'stop') {
        await w.until((l) => l.event === 'restored', i + 1);
        // Stopped: the NIC is home with its host identity, ready for the next start.
        expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
        await docker(['start', name]);
      }
      await w.until(attachedTo(`docker:${name}`), i + 2);
      await expectAttached(lab, nsOf(await pidOf(name)));
    }
    expect(w.lines().filter((l) => l.event === 'failed')).toEqual([]);
    await finish(w, name, hostBefore);
  }, 120_000);

  it('physical: a crash under --restart always (its process SIGKILLed; `docker kill` counts as a manual stop): the restarted container gets its NIC again', async () => {
    const { name, hostBefore, w } = await setup(['--restart', 'always']);
    const before = await pidOf(name);
    await returnToHost(lab, nsOf(before), 'eth1');
    process.kill(before, 'SIGKILL');
    await w.until(attachedTo(`docker:${name}`), 2);
    const after = await pidOf(name);
    expect(after).not.toBe(before);
    await expectAttached(lab, nsOf(after));
    await finish(w, name, hostBefore);
  }, 120_000);

  it('virtual: a veth dies with the restarted container: logged as destroyed, record forgotten, nothing attached twice', async () => {
    const { nic, name, w } = await setup();
    await docker(['restart', '-t', '0', name]);
    await w.until((l) => l.event === 'destroyed');
    await w.until((l) => l.event === 'skipped' || l.event === 'failed' || l.event === 'resync', 1);
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
    expect((await lab.inNs(lab.host, ['ip', 'link', 'show', 'dev', nic])).exitCode).not.toBe(0);
    expect(w.lines().filter(attachedTo(`docker:${name}`))).toHaveLength(1);
  }, 120_000);

  it('physical: a removed container: the entry stays, the NIC is restored in the host; a new container of the same name gets it', async () => {
    const { name, hostBefore, w } = await setup();
    await returnToHost(lab, nsOf(await pidOf(name)), 'eth1');
    await docker(['rm', '-f', name]);
    await w.until((l) => l.event === 'restored');
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    await runContainer(name);
    await w.until(attachedTo(`docker:${name}`), 2);
    await expectAttached(lab, nsOf(await pidOf(name)));
    await finish(w, name, hostBefore);
  }, 120_000);

  it('SIGKILL during an attach, then a wiped state directory (a reboot): the next watch recovers, then attaches', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.77/24'] });
    const name = await container();
    const hostBefore = comparable(await lab.snapshot(lab.host));
    writeDesired(file, [{ container: `docker:${name}`, nic, addresses: [SPEC], mtu: MTU }]);
    const first = watch({ HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_PAUSE: 'after:3' });
    await pausedAt(lab.stateDir, 'after:3').catch((e: unknown) => { throw new Error(`${String(e)}\n${first.lines().map((l) => l.message).join('\n')}`); });
    process.kill(first.child.pid!, 'SIGKILL');
    await first.stop();
    expect(readdirSync(join(lab.stateDir, 'journal'))).toHaveLength(1);
    rmSync(join(lab.stateDir, 'test-paused'), { force: true });
    const second = watch();
    await second.until((l) => l.event === 'recovered');
    await second.until(attachedTo(`docker:${name}`));
    await expectAttached(lab, nsOf(await pidOf(name)));
    expect(readdirSync(join(lab.stateDir, 'journal'))).toEqual([]);
    // A reboot: the state directory (tmpfs) is empty, the namespaces are new. Here: the NIC home again, state wiped.
    await second.stop();
    expect((await lab.hostnic(['detach', `docker:${name}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    rmSync(lab.stateDir, { recursive: true, force: true });
    await docker(['restart', '-t', '0', name]);
    const third = watch();
    await third.until(attachedTo(`docker:${name}`));
    await expectAttached(lab, nsOf(await pidOf(name)));
    await finish(third, name, hostBefore);
  }, 120_000);

  it('physical: 16 containers restarted at once: all come back, none attached twice', async () => {
    const n = 16;
    const nics: string[] = [];
    const names: string[] = [];
    for (let i = 0; i < n; i++) nics.push(await lab.addNic());
    for (let i = 0; i < n; i++) names.push(await container());
    writeDesired(file, names.map((name, i) => ({ container: `docker:${name}`, nic: nics[i]!, addresses: [`192.168.1.${100 + i}/24`] })));
    const w = watch();
    await w.until((l) => l.event === 'attached', n, 60_000);
    await w.quiet();
    for (const name of names) await returnToHost(lab, nsOf(await pidOf(name)), 'eth1');
    await docker(['restart', '-t', '0', ...names]);
    await w.until((l) => l.event === 'attached', 2 * n, 90_000);
    for (const [i, name] of names.entries()) {
      expect(w.lines().filter(attachedTo(`docker:${name}`)), name).toHaveLength(2);
      const addrs = (await lab.inNs(nsOf(await pidOf(name)), ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth1'])).stdout;
      expect(addrs).toContain(`192.168.1.${100 + i}/24`);
    }
    expect(w.lines().filter((l) => l.event === 'failed')).toEqual([]);
    expect(existsSync(join(lab.stateDir, 'journal')) ? readdirSync(join(lab.stateDir, 'journal')) : []).toEqual([]);
  }, 240_000);
});
