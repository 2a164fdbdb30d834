/**
 * The container lifecycle against a real Docker engine: attach to a container
 * named by name, short id or `docker:NAME`; Docker's own eth0 left alone, its
 * default route replaced and restored; then what `status` and `detach` say
 * after `docker restart`, `docker stop` and `docker rm -f`.
 *
 * hostnic runs in the lab's host namespace; dockerd lives in the machine's
 * root namespace. That is fine: hostnic talks to dockerd over its unix socket
 * (same mount namespace) and needs only /proc/PID/ns/net of the container.
 * The NICs are lab veths, so a container's death destroys them.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab, type Snapshot, type SnapshotRoute } from '../helpers/lab.js';
import { comparable, hostnicTempNamespaces, linkIn, routesVia, withoutLink } from '../helpers/hostnic.js';
import { createContainer, ensureDocker, removeContainer, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js';

const root = requireRoot();

const ADDR = '192.168.1.30';
const SPEC = `${ADDR}/24@192.168.1.1`;

interface StatusRow {
  target: string;
  nic: string;
  name: string;
  status: string;
  detail: string;
  reason?: string;
  where: string;
}

async function docker(args: string[]): Promise<string> {
  return (await execa('docker', args)).stdout.trim();
}

/** The container's current init PID (0 when it is not running). */
async function pidOf(name: string): Promise<number> {
  return Number(await docker(['inspect', '--format', '{{.State.Pid}}', name]));
}

/** Docker's gateway for the container on its default bridge (172.17.0.1 usually). */
async function dockerGateway(name: string): Promise<string> {
  return docker(['inspect', '--format', '{{.NetworkSettings.Gateway}}', name]);
}

const nsOf = (pid: number) => `/proc/${pid}/ns/net`;

/** A snapshot without `dev` and whatever routes use it, and without default routes: what attach must not touch. */
function untouched(snap: Snapshot, dev: string): Snapshot {
  const c = comparable(snap);
  const keep = (r: SnapshotRoute) => r.dev !== dev && r.dst !== 'default';
  return { ...c, links: c.links.filter((l) => l.ifname !== dev), routes4: c.routes4.filter(keep), routes6: c.routes6.filter(keep) };
}

describe.skipIf(!root)('docker containers (real engine)', () => {
  let lab: Lab;
  /** Names of containers this test made: removed in afterEach, whatever happened. */
  let made: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
  }, 180_000);
  beforeEach(async () => {
    made = [];
    // No IPv6 DAD on the lab's NICs (LabOptions.dad; runtimes' own namespaces keep theirs): nothing here is about
    // DAD, and every snapshot after a NIC came up or back would wait for it.
    lab = await createLab({ dad: false });
  });
  afterEach(async () => {
    const problems: string[] = [];
    for (const name of made) {
      await removeContainer(name).catch((e: unknown) => problems.push(String(e)));
    }
    await lab.destroy();
    if (problems.length) throw new Error(problems.join('\n'));
  });

  async function container(): Promise<RunningContainer> {
    const name = uniqueName('hnd');
    made.push(name); // before it exists: a half-made container is removed too
    return runContainer(name);
  }

  /** A lab NIC attached by name to a fresh container, and the host as it was before the attach. */
  async function attached(): Promise<{ nic: string; c: RunningContainer; hostBefore: Snapshot }> {
    const nic = await lab.addNic();
    const c = await container();
    const hostBefore = await lab.snapshot(lab.host);
    const r = await lab.hostnic(['attach', c.name, nic, SPEC]);
    expect(r.exitCode, r.stderr).toBe(0);
    return { nic, c, hostBefore };
  }

  async function status(): Promise<StatusRow[]> {
    const r = await lab.hostnic(['status', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { attachments: StatusRow[] }).attachments;
  }

  /** exit 2 with exactly one line on stderr, matching `line`. */
  function expectUsage(r: { exitCode: number; stderr: string; stdout: string }, line: RegExp): void {
    expect(r.exitCode, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    expect(r.stdout).toBe('');
  }

  function expectNoRecords(): void {
    for (const dir of ['attachments', 'journal']) {
      const path = join(lab.stateDir, dir);
      expect(existsSync(path) ? readdirSync(path) : [], dir).toEqual([]);
    }
  }

  it('attach by name: default route via eth1 instead of Docker eth0, eth0 untouched, ping both ways; detach restores both namespaces', async () => {
    const nic = await lab.addNic();
    const c = await container();
    const ns = nsOf(c.pid);
    const gw = await dockerGateway(c.name);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ns);
    expect(routesVia(ctrBefore.routes4, 'default')).toEqual([{ gateway: gw, dev: 'eth0' }]);
    expect(ctrBefore.links.map((l) => l.ifname)).toEqual(['eth0', 'lo']);

    const r = await lab.hostnic(['attach', c.name, nic, SPEC]);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`attached ${nic} to docker:${c.name} as eth1 (${ADDR}/24)`);

    const after = await lab.snapshot(ns);
    expect(linkIn(after, 'eth1').addrs.map((a) => `${a.local}/${a.prefixlen}`)).toContain(`${ADDR}/24`);
    expect(routesVia(after.routes4, 'default')).toEqual([{ gateway: '192.168.1.1', dev: 'eth1' }]);
    // Docker's eth0, its address and connected route, and everything else: as they were.
    expect(untouched(after, 'eth1')).toEqual(untouched(ctrBefore, 'eth1'));
    expect(linkIn(after, 'eth0').addrs).toEqual(linkIn(ctrBefore, 'eth0').addrs);
    expect(routesVia(after.routes4, '172.17.0.0/16')).toEqual(routesVia(ctrBefore.routes4, '172.17.0.0/16'));
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).not.toContain(nic);

    // The container reaches the gateway through eth1 and, by the new default route, the remote behind it;
    // the cloud reaches the container.
    expect(await lab.ping(ns, lab.gw4)).toBe(true);
    expect(await lab.ping(ns, lab.remote4)).toBe(true);
    expect(await lab.ping(lab.cloud, ADDR)).toBe(true);
    const viaEth1 = await lab.inNs(ns, ['ping', '-4', '-n', '-c1', '-W2', '-I', 'eth1', lab.gw4]);
    expect(viaEth1.exitCode, viaEth1.stderr).toBe(0);

    expect(await status()).toEqual([
      expect.objectContaining({ target: `docker:${c.name}`, nic, name: 'eth1', status: 'in place', where: 'container' }),
    ]);

    const d = await lab.hostnic(['detach', c.name]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(ns))).toEqual(comparable(ctrBefore));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(await hostnicTempNamespaces()).toEqual([]);
    expectNoRecords();
  });

  it('attach by short id and by docker:NAME (no process started to resolve it); detach by the same forms restores everything', async () => {
    const nic = await lab.addNic();
    const c = await container();
    const ns = nsOf(c.pid);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ns);

    for (const form of [c.id.slice(0, 12), `docker:${c.name}`]) {
      const r = await lab.hostnic(['attach', form, nic, SPEC, '--verbose']);
      expect(r.exitCode, `${form}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain(`attached ${nic} to docker:${c.name} as eth1`);
      if (form.startsWith('docker:')) {
        // --verbose traces every process hostnic starts: Docker is asked over its socket, not through a CLI.
        expect(r.stderr).toMatch(/\$ .*\bip\b/);
        expect(r.stderr).not.toMatch(/\$ (\S*\/)?(docker|podman|ctr|nerdctl)\b/);
      }
      const after = await lab.snapshot(ns);
      expect(routesVia(after.routes4, 'default')).toEqual([{ gateway: '192.168.1.1', dev: 'eth1' }]);
      expect(untouched(after, 'eth1')).toEqual(untouched(ctrBefore, 'eth1'));
      expect(await status()).toEqual([expect.objectContaining({ target: `docker:${c.name}`, status: 'in place' })]);

      const d = await lab.hostnic(['detach', form]);
      expect(d.exitCode, `${form}: ${d.stderr}`).toBe(0);
      expect(d.stdout).toContain(`detached ${nic} from docker:${c.name}`);
      expect(comparable(await lab.snapshot(ns))).toEqual(comparable(ctrBefore));
      expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
      expectNoRecords();
    }
  });

  it('status after docker restart: target gone, container restarted (new namespace; the NIC is not in it), the veth destroyed; detach by name forgets it', async () => {
    const { nic, c, hostBefore } = await attached();

    await docker(['restart', '-t', '0', c.name]);
    const pid = await pidOf(c.name);
    expect(pid).toBeGreaterThan(0);
    expect(pid).not.toBe(c.pid);
    // The new namespace has Docker's eth0 only; the veth died with the old one (and its peer in the cloud).
    const fresh = await lab.snapshot(nsOf(pid));
    expect(fresh.links.map((l) => l.ifname)).toEqual(['eth0', 'lo']);
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).not.toContain(nic);

    const [row, ...more] = await status();
    expect(more).toEqual([]);
    expect(row).toMatchObject({ target: `docker:${c.name}`, nic, status: 'target gone', reason: 'container-restarted', where: 'gone' });
    expect(row!.detail).toBe('container restarted (new namespace; the NIC is not in it); the veth NIC was destroyed with the old namespace');
    const text = await lab.hostnic(['status']);
    expect(text.stdout).toContain('container restarted (new namespace; the NIC is not in it)');

    const d = await lab.hostnic(['detach', c.name]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toContain(`${nic}: container restarted (new namespace; the NIC is not in it); the veth NIC was destroyed with the old namespace; record removed`);
    expectNoRecords();
    expect(comparable(await lab.snapshot(nsOf(pid)))).toEqual(comparable(fresh));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(withoutLink(hostBefore, nic));
  });

  it('status after docker stop says container stopped; detach by short id of the stopped container cleans the record', async () => {
    const { nic, c, hostBefore } = await attached();
    await docker(['stop', '-t', '0', c.name]);

    const [row] = await status();
    expect(row).toMatchObject({ status: 'target gone', reason: 'container-stopped', where: 'gone' });
    expect(row!.detail).toMatch(/^container stopped; the veth NIC was destroyed/);

    const d = await lab.hostnic(['detach', c.id.slice(0, 12)]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toMatch(/container stopped; .*; record removed/);
    expectNoRecords();
    expect(comparable(await lab.snapshot(lab.host))).toEqual(withoutLink(hostBefore, nic));
  });

  it('detach after docker rm -f does not fail: the veth died with the namespace, exit 0, record cleaned, says so', async () => {
    const { nic, c, hostBefore } = await attached();
    await removeContainer(c.name);

    const [row] = await status();
    expect(row).toMatchObject({ target: `docker:${c.name}`, status: 'target gone', reason: 'container-removed', where: 'gone' });
    expect(row!.detail).toBe('container removed; the veth NIC was destroyed with the old namespace');

    const d = await lab.hostnic(['detach', c.name]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toContain(`${nic}: container removed; the veth NIC was destroyed with the old namespace; record removed`);
    expectNoRecords();
    expect(comparable(await lab.snapshot(lab.host))).toEqual(withoutLink(hostBefore, nic));
    expect(await status()).toEqual([]);

    // Nothing left to detach: a one-line usage error.
    expectUsage(await lab.hostnic(['detach', c.name]), new RegExp(`^hostnic: no container ${c.name} and nothing hostnic attached to it$`));
  });

  it('a new container under the old name: status says the old one was removed; detach NAME forgets it and leaves the new one alone', async () => {
    const { nic, c, hostBefore } = await attached();
    await removeContainer(c.name);
    const again = await runContainer(c.name);
    expect(again.id).not.toBe(c.id);
    const ctrBefore = await lab.snapshot(nsOf(again.pid));

    const [row] = await status();
    expect(row).toMatchObject({ status: 'target gone', reason: 'container-removed' });
    const d = await lab.hostnic(['detach', c.name]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toMatch(/container removed; .*; record removed/);
    expectNoRecords();
    expect(comparable(await lab.snapshot(nsOf(again.pid)))).toEqual(comparable(ctrBefore));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(withoutLink(hostBefore, nic));
  });

  it('an unknown container: exit 2, one line, nothing changes', async () => {
    const nic = await lab.addNic();
    const before = await lab.snapshot(lab.host);
    const name = uniqueName('hnd-none');
    expectUsage(await lab.hostnic(['attach', name, nic, SPEC]), new RegExp(`^hostnic: no running container named ${name} in docker\\b`));
    expectUsage(await lab.hostnic(['attach', `docker:${name}`, nic, SPEC]), new RegExp(`^hostnic: no container ${name} in docker$`));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expectNoRecords();
  });

  it('a container that was never started, and one that was stopped: exit 2 "container X is not running", nothing changes', async () => {
    const nic = await lab.addNic();
    const before = await lab.snapshot(lab.host);
    const created = uniqueName('hnd');
    made.push(created);
    await createContainer(created);
    const stopped = await container();
    await docker(['stop', '-t', '0', stopped.name]);

    for (const name of [created, stopped.name]) {
      expectUsage(await lab.hostnic(['attach', name, nic, SPEC]), new RegExp(`^hostnic: container ${name} is not running\\b`));
      expectUsage(await lab.hostnic(['attach', `docker:${name}`, nic, SPEC]), new RegExp(`^hostnic: container ${name} is not running$`));
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expectNoRecords();
  });
});
