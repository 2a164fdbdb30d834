/**
 * hostnic watch with Podman (no API service: `podman events` as a child) and
 * with a private containerd (`ctr events`): the NIC is back after a restart,
 * with its address, MTU and the default route, and the final detach gives the
 * host back as it was. Both cases cover the physical-return path: the NIC is
 * moved back to the host the way the kernel does before the runtime tears the
 * namespace down (watch-helpers.ts).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable } from '../helpers/hostnic.js';
import { onPath } from '../../src/runtime/common.js';
import { ensurePodman, removePodmanContainer, runPodmanContainer, startContainerd, uniqueName, type PrivateContainerd } from '../helpers/docker.js';
import { ADDR, MTU, attachedTo, desiredDir, expectAttached, returnToHost, startWatch, writeDesired, type Watch } from './watch-helpers.js';

const root = requireRoot();
const hasPodman = onPath('podman') !== undefined || !!process.env.CI;
const hasContainerd = (onPath('containerd') !== undefined && onPath('ctr') !== undefined) || !!process.env.CI;
const SPEC = `${ADDR}/24@192.168.1.1`;
const nsOf = (pid: number) => `/proc/${pid}/ns/net`;

describe.skipIf(!root)('hostnic watch with Podman and containerd', () => {
  let lab: Lab;
  let dir: string;
  let file: string;
  let w: Watch | undefined;
  beforeEach(async () => {
    // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
    // DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    dir = desiredDir();
    file = join(dir, 'attachments.yaml');
  });
  afterEach(async () => {
    await w?.stop();
    w = undefined;
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function finish(target: string, hostBefore: ReturnType<typeof comparable>, env: Record<string, string> = {}): Promise<void> {
    expect((await w!.stop()).exitCode).toBe(0);
    const r = await lab.hostnic(['detach', target], { env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
  }

  describe.skipIf(!hasPodman)('podman', () => {
    const made: string[] = [];
    beforeAll(async () => { await ensurePodman(); }, 180_000);
    afterAll(async () => { for (const n of made) await removePodmanContainer(n); }, 60_000);
    const pidOf = async (name: string) => Number((await execa('podman', ['container', 'inspect', '--format', '{{.State.Pid}}', name])).stdout.trim());

    it('physical: podman restart: back with its address, MTU and default route; detach restores the host', async () => {
      const nic = await lab.addNic({ addrs: ['192.168.1.77/24'] });
      const name = uniqueName('hnwp');
      made.push(name);
      await runPodmanContainer(name);
      const hostBefore = comparable(await lab.snapshot(lab.host));
      writeDesired(file, [{ container: `podman:${name}`, nic, addresses: [SPEC], mtu: MTU }]);
      w = startWatch(lab, file);
      await w.until(attachedTo(`podman:${name}`));
      await w.until((l) => l.event === 'runtime-up' && l.runtime === 'podman');
      await w.quiet();
      await returnToHost(lab, nsOf(await pidOf(name)), 'eth1');
      await execa('podman', ['restart', '-t', '0', name]);
      await w.until(attachedTo(`podman:${name}`), 2);
      await expectAttached(lab, nsOf(await pidOf(name)));
      await finish(`podman:${name}`, hostBefore);
    }, 120_000);
  });

  describe.skipIf(!hasContainerd)('containerd', () => {
    let ctrd: PrivateContainerd;
    beforeAll(async () => { ctrd = await startContainerd(); }, 180_000);
    afterAll(async () => { await ctrd?.stop(); }, 60_000);

    /** Physical: the task killed, deleted and started again; the entry names the container by its id or by its nerdctl name. */
    async function restartedBack(labels: Record<string, string>, ref: (id: string) => string, addr: string): Promise<void> {
      const env = { CONTAINERD_ADDRESS: ctrd.socketPath };
      const ctr = (args: string[]) => execa('ctr', ['--address', ctrd.socketPath, '--namespace', ctrd.namespace, ...args]);
      const id = uniqueName('hnwc');
      const { pid } = await ctrd.run(id, labels);
      const nic = await lab.addNic({ addrs: [addr] });
      const hostBefore = comparable(await lab.snapshot(lab.host));
      const target = `containerd:${ctrd.namespace}/${ref(id)}`;
      writeDesired(file, [{ container: target, nic, addresses: [SPEC], mtu: MTU }]);
      w = startWatch(lab, file, env);
      await w.until(attachedTo(target));
      await w.until((l) => l.event === 'runtime-up' && l.runtime === 'containerd');
      await w.quiet();
      await returnToHost(lab, nsOf(pid), 'eth1');
      await ctr(['tasks', 'kill', '--signal', 'SIGKILL', id]);
      for (let i = 0; i < 50 && (await ctr(['tasks', 'delete', id]).then(() => false, () => true)); i++) await new Promise((r) => setTimeout(r, 100));
      await ctr(['tasks', 'start', '-d', id]);
      await w.until(attachedTo(target), 2);
      const tasks = (await ctr(['tasks', 'ls'])).stdout.split('\n').find((l) => l.startsWith(`${id} `))!;
      await expectAttached(lab, nsOf(Number(tasks.trim().split(/\s+/)[1])));
      await finish(target, hostBefore, env);
    }

    it('physical: task killed, deleted and started again: back with its address, MTU and default route; detach restores the host', async () => {
      await restartedBack({}, (id) => id, '192.168.1.77/24');
    }, 120_000);

    it("by the name nerdctl gave it (its nerdctl/name label; ctr's events carry only the id): started again, back", async () => {
      const name = uniqueName('web');
      await restartedBack({ 'nerdctl/name': name }, () => name, '192.168.1.78/24');
    }, 120_000);
  });
});
