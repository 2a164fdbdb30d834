/**
 * hostnic as the CNI plugin of real runtimes: containerd (`ctr run --cni`)
 * with a conflist that uses it. ctr reads /etc/cni/net.d and runs plugins
 * from /opt/cni/bin: the test writes uniquely named files there (its
 * conflist sorted first, a wrapper that runs bin/hostnic in the lab host,
 * the IPAM plugin under a unique name) and removes exactly those.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLab, REPO, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable } from '../helpers/hostnic.js';
import { CNI_PLUGINS } from '../helpers/cni.js';
import { ensurePodman, podmanUlimitArgs, startContainerd, type PrivateContainerd } from '../helpers/docker.js';

const root = requireRoot();
const BIN = '/opt/cni/bin';
const CONF = '/etc/cni/net.d';
const hasCtr = existsSync('/usr/bin/ctr') || !!process.env.CI;

/**
 * What the container printed (its `ip -o addr`, `ip route` and a ping of the
 * gateway): the NIC as eth0 with the address and default route the network
 * config gave it, the gateway reached; and the host as before.
 */
async function expectOnTheCloud(lab: Lab, run: { stdout: string; stderr: string; exitCode?: number }, before: Awaited<ReturnType<Lab['snapshot']>>): Promise<void> {
  expect(run.stderr).toBe('');
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toMatch(/eth0\s+inet 192\.168\.1\.10\/24/);
  expect(run.stdout).toContain('default via 192.168.1.1 dev eth0');
  expect(run.stdout).toContain('PING-OK');
  expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
}

/** Files this test put in the shared CNI directories, removed in reverse; directories it made, removed when empty. */
class Installed {
  private files: string[] = [];
  private dirs: string[] = [];
  dir(d: string): void {
    // Each level made here is removed after (when empty): /opt/cni and /opt/cni/bin.
    const made = mkdirSync(d, { recursive: true });
    if (made) for (let p = d; p.length >= made.length; p = p.slice(0, p.lastIndexOf('/'))) this.dirs.unshift(p);
  }
  file(path: string, text: string, mode = 0o644): void {
    writeFileSync(path, text, { mode, flag: 'wx' });
    chmodSync(path, mode);
    this.files.push(path);
  }
  link(path: string, to: string): void {
    symlinkSync(to, path);
    this.files.push(path);
  }
  /** A shared name (loopback, which ctr always runs): made only when absent, and then removed. */
  linkIfAbsent(path: string, to: string): void {
    if (!existsSync(path)) this.link(path, to);
  }
  remove(): void {
    for (const f of this.files.reverse()) rmSync(f, { force: true });
    for (const d of this.dirs.reverse()) if (existsSync(d) && readdirSync(d).length === 0) rmdirSync(d);
    this.files = [];
    this.dirs = [];
  }
}

describe.skipIf(!root || !hasCtr)('containerd: ctr run --cni with a conflist that uses hostnic', () => {
  let lab: Lab;
  let ctrd: PrivateContainerd;
  const inst = new Installed();
  // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
  // DAD, and every snapshot after a NIC came up or back would wait for it.
  beforeEach(async () => { lab = await createLab({ dad: false }); ctrd = await startContainerd(); }, 120_000);
  afterEach(async () => {
    await ctrd?.stop();
    inst.remove();
    await lab.destroy();
  });

  it('the NIC is inside with its address while the task runs; removing task and container restores the host', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'], mtu: 1400 });
    const before = await lab.snapshot(lab.host);
    const plugin = `hostnic-test-${lab.id}`;
    const ipam = `hostnic-test-static-${lab.id}`;
    const net = `hostnic-test-${lab.id}`;
    inst.dir(BIN);
    inst.dir(CONF);
    // The plugin: bin/hostnic, run in the lab host (where the lab's NICs are) with the lab's state directory.
    inst.file(`${BIN}/${plugin}`, `#!/bin/sh\nexec nsenter --net=${lab.hostNs} -- env HOSTNIC_STATE_DIR=${lab.stateDir} ${REPO}/bin/hostnic\n`, 0o755);
    inst.link(`${BIN}/${ipam}`, `${CNI_PLUGINS}/static`);
    inst.linkIfAbsent(`${BIN}/loopback`, `${CNI_PLUGINS}/loopback`);
    inst.file(`${CONF}/00-${net}.conflist`, JSON.stringify({
      cniVersion: '1.0.0', name: net,
      plugins: [{ type: plugin, device: nic, ipam: { type: ipam, addresses: [{ address: '192.168.1.10/24', gateway: '192.168.1.1' }], routes: [{ dst: '0.0.0.0/0' }] } }],
    }));
    const id = `hn-cni-${lab.id}`;
    const ctr = (args: string[]) => execa('ctr', ['--address', ctrd.socketPath, '--namespace', ctrd.namespace, ...args], { reject: false });
    // ctr runs ADD before the task starts and DEL after it exited (--rm). A task's namespace dies with
    // it, and a veth with the namespace (a physical NIC would come back to the host): so, as a pod's
    // pause process does, something holds the namespace until DEL: hostnic finds the NIC there.
    const running = ctr(['run', '--rm', '--cni', `docker.io/hostnic-test/busybox:latest`, id, 'sh', '-c',
      'ip -o addr show dev eth0; ip route; ping -c1 -W5 192.168.1.1 >/dev/null && echo PING-OK; sleep 3']);
    let pid = 0;
    for (let k = 0; k < 100 && !pid; k++) {
      const row = (await ctr(['tasks', 'ls'])).stdout.split('\n').find((l) => l.trim().split(/\s+/)[0] === id);
      pid = Number(row?.trim().split(/\s+/)[1] ?? 0);
      if (!pid) await new Promise((r) => setTimeout(r, 100));
    }
    expect(pid).toBeGreaterThan(0);
    const holder = spawn('nsenter', [`--net=/proc/${pid}/ns/net`, '--', 'sleep', '60'], { stdio: 'ignore' });
    const run = await running;
    holder.kill('SIGKILL');
    // The record says where the task was; after the task, hostnic found the NIC in the held namespace.
    await expectOnTheCloud(lab, run, before);
  }, 120_000);
});

const hasPodman = existsSync('/usr/bin/podman') || !!process.env.CI;

describe.skipIf(!root || !hasPodman)('podman (CNI backend) with a network whose conflist uses hostnic', () => {
  let lab: Lab;
  const inst = new Installed();
  // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
  // DAD, and every snapshot after a NIC came up or back would wait for it.
  beforeEach(async () => { lab = await createLab({ dad: false }); }, 120_000);
  afterEach(async () => {
    inst.remove();
    await lab.destroy();
  });

  it('podman run --network NAME: the NIC inside with its address; after the container, the host is as before', async () => {
    const { image } = await ensurePodman();
    const info = await execa('podman', ['info', '--format', '{{.Host.NetworkBackend}}']);
    expect(info.stdout.trim()).toBe('cni'); // Debian 12's podman 4.3: CNI, not netavark
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'], alias: 'vpc' });
    const before = await lab.snapshot(lab.host);
    const plugin = `hostnic-test-${lab.id}`;
    const net = `hostnic-test-${lab.id}`;
    inst.dir(BIN);
    inst.file(`${BIN}/${plugin}`, `#!/bin/sh\nexec nsenter --net=${lab.hostNs} -- env HOSTNIC_STATE_DIR=${lab.stateDir} ${REPO}/bin/hostnic\n`, 0o755);
    inst.file(`${CONF}/${net}.conflist`, JSON.stringify({
      cniVersion: '0.4.0', name: net,
      plugins: [{ type: plugin, device: nic, ipam: { type: 'static', addresses: [{ address: '192.168.1.10/24', gateway: '192.168.1.1' }], routes: [{ dst: '0.0.0.0/0' }] } }],
    }));
    const name = `hn-cni-${lab.id}`;
    const run = await execa('podman', ['run', '--rm', '--name', name, ...podmanUlimitArgs(), '--cap-add', 'NET_RAW', '--network', net, image, 'sh', '-c',
      'ip -o addr show dev eth0; ip route; ping -c1 -W5 192.168.1.1 >/dev/null && echo PING-OK'], { reject: false });
    await expectOnTheCloud(lab, run, before);
  }, 120_000);
});
