/**
 * hostnic watch while dockerd itself is stopped and started again (issue 13:
 * "dockerd restarted while watch runs"). The suite's other files share one
 * dockerd, so this one runs a private daemon (startPrivateDockerd: its own
 * socket, data-root, exec-root and containerd) and restarts that one for
 * real; hostnic and the docker CLI reach it through DOCKER_HOST.
 *
 * Behaviour covered: the physical-return path. A lab NIC is a veth, which
 * dies with its namespace; a physical NIC goes back to the host. So before
 * dockerd stops the container (and tears its namespace down), the test moves
 * the NIC back to the lab host the way the kernel would (returnToHost).
 *
 * This replaces the earlier stand-in in watch-docker.test.ts (a unix-socket
 * proxy closed and reopened in front of the shared daemon): what it showed
 * (the stream breaks, one log line for the outage, reconnect with backoff, a
 * restart missed meanwhile caught by the resync after the reconnect) happens
 * here with the real daemon, where the socket also goes away.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLab, delay, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable } from '../helpers/hostnic.js';
import { startPrivateDockerd, TEST_IMAGE, uniqueName, type PrivateDockerd } from '../helpers/docker.js';
import { ADDR, MTU, attachedTo, desiredDir, expectAttached, returnToHost, startWatch, writeDesired, type LogLine, type Watch } from './watch-helpers.js';

const root = requireRoot();
const SPEC = `${ADDR}/24@192.168.1.1`;
const nsOf = (pid: number) => `/proc/${pid}/ns/net`;
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!root)('hostnic watch across a real dockerd restart (private daemon)', () => {
  let dockerd: PrivateDockerd;
  let lab: Lab;
  let dir: string;
  let watches: Watch[] = [];

  // The shared daemon's bridge, as the host has it (dockerd --bridge=none deletes a docker0 in its own namespace).
  const docker0 = () => execa('ip', ['-o', 'link', 'show', 'dev', 'docker0'], { reject: false }).then((r) => r.stdout.split(':')[0]);
  let docker0Before: string | undefined;

  beforeAll(async () => {
    docker0Before = await docker0();
    dockerd = await startPrivateDockerd();
  }, 180_000);
  afterAll(async () => {
    await dockerd?.destroy();
    expect(await docker0(), "the host's docker0 (the shared daemon's) is untouched").toBe(docker0Before);
  }, 120_000);
  beforeEach(async () => {
    watches = [];
    // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
    // DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
    dir = desiredDir();
  });
  afterEach(async () => {
    for (const w of watches) await w.stop();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  const pidOf = async (name: string): Promise<number> => Number(await dockerd.docker(['inspect', '--format', '{{.State.Pid}}', name]));
  const dockerLine = (event: string) => (l: LogLine): boolean => l.event === event && l.runtime === 'docker';

  it('physical: dockerd stopped (SIGTERM) and started again on the same directories: the --restart always container comes back, watch reconnects (one line for the outage), the NIC is attached again; final detach restores the host', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.77/24'], mtu: 1500 });
    const name = uniqueName('hnw');
    // --stop-timeout 1: sleep as PID 1 ignores SIGTERM; do not make dockerd's shutdown wait 10 s for it.
    await dockerd.docker(['run', '-d', '--name', name, '--network', 'none', '--restart', 'always', '--stop-timeout', '1', '--label', 'hostnic-test=1', TEST_IMAGE, 'sleep', '1000000']);
    const hostBefore = comparable(await lab.snapshot(lab.host));
    const file = join(dir, 'attachments.yaml');
    writeDesired(file, [{ container: `docker:${name}`, nic, addresses: [SPEC], mtu: MTU }]);
    // --resync 0: no periodic resync, so only the reconnect can bring the NIC back.
    const w = startWatch(lab, file, dockerd.env, ['--resync', '0']);
    watches.push(w);
    await w.until(attachedTo(`docker:${name}`));
    const started = w.lines().find((l) => l.event === 'started')!;
    expect(started.resyncSeconds).toBe(0);
    expect(started.message).toMatch(/no periodic resync\)$/);
    await w.until(dockerLine('runtime-up'));
    const before = await pidOf(name);
    await expectAttached(lab, nsOf(before));

    await returnToHost(lab, nsOf(before), 'eth1');
    const daemonBefore = dockerd.pids();
    await dockerd.stop();
    expect(alive(before), 'the container stopped with dockerd').toBe(false);
    expect(alive(daemonBefore.dockerd!)).toBe(false);
    expect(alive(daemonBefore.containerd!)).toBe(false);
    await w.until(dockerLine('runtime-down'));
    await delay(1500); // a few backoff periods with the daemon away: still one line for this outage
    expect(w.lines().filter(dockerLine('runtime-down'))).toHaveLength(1);

    await dockerd.start();
    expect(dockerd.pids().dockerd).not.toBe(daemonBefore.dockerd);
    await w.until(dockerLine('runtime-up'), 2);
    await w.until(attachedTo(`docker:${name}`), 2, 40_000);
    const after = await pidOf(name);
    expect(after, 'restarted by its restart policy').not.toBe(before);
    expect(await dockerd.docker(['inspect', '--format', '{{.State.Running}}', name])).toBe('true');
    await expectAttached(lab, nsOf(after));
    expect(w.lines().filter(dockerLine('runtime-down'))).toHaveLength(1);
    expect(w.lines().filter(attachedTo(`docker:${name}`))).toHaveLength(2);
    // Docker sends the container's die before the stream breaks: watch restores the returned NIC then,
    // and its look at the entry meets a daemon that is going away. That is a wait for the runtime (the
    // reconnect's resync attaches), never a failure: no `failed` line at all, and any wait before the reconnect.
    const reconnected = w.lines().filter(dockerLine('runtime-up'))[1]!;
    expect(w.lines().filter((l) => l.event === 'failed' || l.event === 'error').map((l) => l.message)).toEqual([]);
    for (const l of w.lines().filter((x) => x.event === 'waiting' && x.why === 'runtime-unavailable')) {
      expect(l.message).toMatch(/waiting for the runtime/);
      expect(Date.parse(String(l.time))).toBeLessThanOrEqual(Date.parse(String(reconnected.time)));
    }

    const stopped = await w.stop();
    expect(stopped.exitCode, stopped.stderr).toBe(0);
    const r = await lab.hostnic(['detach', `docker:${name}`], { env: dockerd.env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    await dockerd.docker(['rm', '-f', name]);
  }, 180_000);
});
