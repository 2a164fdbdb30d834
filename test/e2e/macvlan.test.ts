/**
 * attach --macvlan (issue 16): macvlan children of one host NIC in several
 * containers. The parent is a lab NIC (a veth whose peer is a port of the
 * cloud's bridge, where the gateway lives); it stays in the lab host and is
 * never changed. Asserts links, addresses, routes, pings from inside, and
 * before/after snapshots. (DHCP on a macvlan child: added with the DHCP
 * issue.)
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable, pausedAt } from '../helpers/hostnic.js';
import { waitForExit } from '../helpers/run.js';
import { ensureDocker, removeContainer, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js';
import { attachedTo, desiredDir, startWatch } from './watch-helpers.js';

const root = requireRoot();

interface IpLink { ifname: string; address?: string; flags: string[]; mtu: number; ifalias?: string; linkinfo?: { info_kind?: string; info_data?: { mode?: string } } }
const pidOf = async (name: string): Promise<number> => Number((await execa('docker', ['inspect', '--format', '{{.State.Pid}}', name])).stdout.trim());

describe.skipIf(!root)('attach --macvlan: children of one host NIC in several containers', () => {
  let lab: Lab;
  let parent: string;
  const made: string[] = [];

  beforeAll(async () => {
    await ensureDocker();
    lab = await createLab();
    parent = await lab.addNic({ addrs: ['192.168.1.250/24'] });
  }, 180_000);
  afterAll(async () => {
    for (const name of made) await removeContainer(name).catch(() => undefined);
    await lab?.destroy();
  });

  async function docker(): Promise<RunningContainer> {
    const c = await runContainer(uniqueName('hnm'));
    made.push(c.name);
    return c;
  }
  const linksIn = async (ns: string): Promise<IpLink[]> => JSON.parse((await lab.inNs(ns, ['ip', '-d', '-json', 'link', 'show'])).stdout) as IpLink[];
  const macvlansIn = async (ns: string): Promise<IpLink[]> => (await linksIn(ns)).filter((l) => l.linkinfo?.info_kind === 'macvlan');
  const records = async (): Promise<string[]> => (await lab.inNs(lab.host, ['ls', join(lab.stateDir, 'attachments')])).stdout.split('\n').filter(Boolean);

  it('two containers (a netns, a Docker container) on one parent reach the gateway and each other; attach twice is a no-op; detach of both leaves everything as before', async () => {
    const ns = await lab.addNetns();
    const web = await docker();
    const webNs = `/proc/${web.pid}/ns/net`;
    const [hostBefore, nsBefore, webBefore] = await Promise.all([lab.snapshot(lab.host), lab.snapshot(`/run/netns/${ns}`), lab.snapshot(webNs)]);

    const a = await lab.hostnic(['attach', `netns:${ns}`, parent, '--macvlan', '192.168.1.21/24@192.168.1.1']);
    expect(a.exitCode, a.stderr).toBe(0);
    const b = await lab.hostnic(['attach', `docker:${web.name}`, parent, '--macvlan', '--macvlan-mode', 'bridge', '192.168.1.22/24@192.168.1.1', '--json']);
    expect(b.exitCode, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ ok: true, nic: parent, name: 'eth1', macvlan: { parent, mode: 'bridge' } });

    // The children: in the containers, of mode bridge, with distinct locally administered MACs; none in the host; the parent unchanged.
    const [childA] = await macvlansIn(`/run/netns/${ns}`);
    const [childB] = await macvlansIn(webNs);
    for (const c of [childA, childB]) {
      expect(c).toMatchObject({ ifname: 'eth1', linkinfo: { info_kind: 'macvlan', info_data: { mode: 'bridge' } } });
      expect(c!.flags).toContain('UP');
      expect(parseInt(c!.address!.slice(0, 2), 16) & 0x03).toBe(2);
    }
    expect(childA!.address).not.toBe(childB!.address);
    expect(await macvlansIn(lab.host)).toEqual([]);
    // The parent as it was, but for the promiscuity the kernel gives it while it has children (a veth has no unicast filter).
    const promisc = (snap: Awaited<ReturnType<Lab['snapshot']>>) => ({ ...comparable(snap), links: comparable(snap).links.map((l) => ({ ...l, promiscuity: 0 })) });
    expect(promisc(await lab.snapshot(lab.host))).toEqual(promisc(hostBefore));
    const def = JSON.parse((await lab.inNs(webNs, ['ip', '-json', 'route', 'show', 'default'])).stdout) as { gateway: string; dev: string }[];
    expect(def).toEqual([expect.objectContaining({ gateway: '192.168.1.1', dev: 'eth1' })]);

    // From inside: the gateway, the remote behind it, and each other.
    expect(await lab.ping(`/run/netns/${ns}`, lab.gw4)).toBe(true);
    expect(await lab.ping(webNs, lab.remote4)).toBe(true);
    expect(await lab.ping(`/run/netns/${ns}`, '192.168.1.22')).toBe(true);
    expect(await lab.ping(webNs, '192.168.1.21')).toBe(true);

    // The same attach again: nothing to do, nothing changed.
    const inPlace = await lab.snapshot(webNs);
    const again = await lab.hostnic(['attach', `docker:${web.name}`, parent, '--macvlan', '192.168.1.22/24@192.168.1.1']);
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already attached .*nothing to do/);
    expect(await lab.snapshot(webNs)).toEqual(inPlace);
    expect(await records()).toHaveLength(2);
    // The parent itself cannot be moved while it has children.
    const move = await lab.hostnic(['attach', `netns:${ns}`, parent, '192.168.1.29/24']);
    expect(move.exitCode).toBe(2);
    expect(move.stderr).toMatch(new RegExp(`${parent} is the parent of macvlan children hostnic made .*: it stays in the host`));
    expect(await lab.snapshot(webNs)).toEqual(inPlace);
    // Nor by apply (an entry that moves it): the entry fails, nothing moves.
    const dir = desiredDir();
    try {
      const file = join(dir, 'attachments.yaml');
      writeFileSync(file, `attachments:\n  - container: netns:${ns}\n    nic: ${parent}\n    addresses: [192.168.1.29/24]\n`, { mode: 0o600 });
      const hostNow = comparable(await lab.snapshot(lab.host));
      const ap = await lab.hostnic(['apply', '-f', file, '--json']);
      expect(ap.exitCode).toBe(1);
      expect((JSON.parse(ap.stdout) as { entries: { action: string; detail: string }[] }).entries).toEqual([
        expect.objectContaining({ action: 'failed', detail: expect.stringMatching(new RegExp(`${parent} is the parent of macvlan children hostnic made`)) })]);
      expect(comparable(await lab.snapshot(lab.host))).toEqual(hostNow);
      expect(await lab.snapshot(webNs)).toEqual(inPlace);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    // status names the parent; nics lists the children with their container.
    const status = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { nic: string; status: string; macvlan?: { parent: string } }[] };
    expect(status.attachments.map((x) => [x.nic, x.status, x.macvlan?.parent])).toEqual([[parent, 'in place', parent], [parent, 'in place', parent]]);
    expect((await lab.hostnic(['status'])).stdout).toContain(`${parent} (macvlan child)`);
    const nics = JSON.parse((await lab.hostnic(['nics', '--json'])).stdout) as { name: string; role: string; kind: string; parent: string | null; container: string | null; mac: string }[];
    const children = nics.filter((n) => n.role === 'macvlan-child').map((n) => [n.name, n.kind, n.parent, n.container, n.mac]).sort();
    expect(children).toEqual([
      ['eth1', 'macvlan', parent, `docker:${web.name}`, childB!.address],
      ['eth1', 'macvlan', parent, `netns:${ns}`, childA!.address],
    ].sort());
    expect(nics.find((n) => n.name === parent)).toMatchObject({ role: 'secondary', parent: null });

    for (const target of [`netns:${ns}`, `docker:${web.name}`]) {
      const d = await lab.hostnic(['detach', target, parent]);
      expect(d.exitCode, d.stderr).toBe(0);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(await lab.snapshot(`/run/netns/${ns}`)).toEqual(nsBefore);
    expect(await lab.snapshot(webNs)).toEqual(webBefore);
    expect(await records()).toEqual([]);

    // Attached again: the same MAC (derived from the container and the parent).
    expect((await lab.hostnic(['attach', `docker:${web.name}`, parent, '--macvlan'])).exitCode).toBe(0);
    expect((await macvlansIn(webNs))[0]!.address).toBe(childB!.address);
    expect((await lab.hostnic(['detach', `docker:${web.name}`])).exitCode).toBe(0);
  }, 60_000);

  it('a killed container leaves no child anywhere, and status says why', async () => {
    const ctr = await lab.addContainer();
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, parent, '--macvlan', '192.168.1.23/24']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(await macvlansIn(ctr.nsPath)).toHaveLength(1);
    await ctr.kill();
    const status = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string; detail: string; where: string }[] };
    expect(status.attachments).toEqual([expect.objectContaining({ status: 'target gone', where: 'gone' })]);
    expect(status.attachments[0]!.detail).toMatch(new RegExp(`macvlan child of ${parent} is gone with its container.*apply/watch will recreate it`));
    expect(await macvlansIn(lab.host)).toEqual([]);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(await records()).toEqual([]);
  }, 30_000);

  it('watch recreates the child after a docker restart, apply after another one; same MAC each time', async () => {
    const web = await docker();
    const dir = desiredDir();
    const file = join(dir, 'attachments.yaml');
    writeFileSync(file, `attachments:\n  - container: docker:${web.name}\n    nic: ${parent}\n    macvlan: true\n    addresses: [192.168.1.24/24@192.168.1.1]\n`, { mode: 0o600 });
    const hostBefore = comparable(await lab.snapshot(lab.host));
    const w = startWatch(lab, file);
    try {
      await w.until(attachedTo(`docker:${web.name}`));
      const [first] = await macvlansIn(`/proc/${await pidOf(web.name)}/ns/net`);
      await execa('docker', ['restart', '-t', '0', web.name]);
      await w.until(attachedTo(`docker:${web.name}`), 2);
      const ns = `/proc/${await pidOf(web.name)}/ns/net`;
      expect((await macvlansIn(ns)).map((l) => l.address)).toEqual([first!.address]);
      expect(await lab.ping(ns, lab.gw4)).toBe(true);
      expect(w.lines().filter((l) => l.event === 'failed')).toEqual([]);
    } finally {
      expect((await w.stop()).exitCode).toBe(0);
    }
    await execa('docker', ['restart', '-t', '0', web.name]);
    const st = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string; detail: string }[] };
    expect(st.attachments[0]).toMatchObject({ status: 'target gone' });
    expect(st.attachments[0]!.detail).toMatch(/container restarted.*apply\/watch will recreate it/);
    const ap = await lab.hostnic(['apply', '-f', file, '--json']);
    expect(ap.exitCode, ap.stderr).toBe(0);
    const entries = (JSON.parse(ap.stdout) as { entries: { action: string; detail: string }[] }).entries;
    expect(entries, ap.stdout).toHaveLength(1);
    expect(['attached', 'repaired'], entries[0]!.detail).toContain(entries[0]!.action);
    const ns = `/proc/${await pidOf(web.name)}/ns/net`;
    expect(await lab.ping(ns, lab.gw4)).toBe(true);
    expect((await lab.hostnic(['apply', '-f', file])).stdout).toMatch(/in place/);
    expect((await lab.hostnic(['detach', `docker:${web.name}`, '--keep'])).exitCode).toBe(0);
    expect(await macvlansIn(ns)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(hostBefore);
    expect(await records()).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('apply: a child moved into the host by hand is deleted there, and a new one made in the container', async () => {
    const ns = await lab.addNetns();
    const dir = desiredDir();
    const file = join(dir, 'attachments.yaml');
    writeFileSync(file, `attachments:\n  - container: netns:${ns}\n    nic: ${parent}\n    macvlan: vepa\n    addresses: [192.168.1.27/24]\n`, { mode: 0o600 });
    const host = comparable(await lab.snapshot(lab.host));
    expect((await lab.hostnic(['apply', '-f', file])).exitCode).toBe(0);
    const [first] = await macvlansIn(`/run/netns/${ns}`);
    expect(first).toMatchObject({ ifname: 'eth1', linkinfo: { info_data: { mode: 'vepa' } } });
    expect((await lab.inNs(`/run/netns/${ns}`, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', lab.hostNs])).exitCode).toBe(0);
    expect(await macvlansIn(lab.host)).toHaveLength(1);
    const r = await lab.hostnic(['apply', '-f', file, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { entries: { action: string }[] }).entries.map((e) => e.action)).toEqual(['repaired']);
    expect(await macvlansIn(lab.host)).toEqual([]);
    expect((await macvlansIn(`/run/netns/${ns}`)).map((l) => l.address)).toEqual([first!.address]);
    expect((await lab.hostnic(['detach', `netns:${ns}`, '--keep'])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(host);
    expect(await records()).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it('detach: a child moved into the host by hand is deleted there (not left behind)', async () => {
    const ns = await lab.addNetns();
    const host = comparable(await lab.snapshot(lab.host));
    expect((await lab.hostnic(['attach', `netns:${ns}`, parent, '--macvlan', '192.168.1.28/24'])).exitCode).toBe(0);
    expect((await lab.inNs(`/run/netns/${ns}`, ['ip', 'link', 'set', 'dev', 'eth1', 'netns', lab.hostNs])).exitCode).toBe(0);
    expect(await macvlansIn(lab.host)).toHaveLength(1);
    const d = await lab.hostnic(['detach', `netns:${ns}`]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(await macvlansIn(lab.host)).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(host);
    expect(await records()).toEqual([]);
  });

  it('an attach failing at any step, or killed after the child was made, leaves no child anywhere (rollback, recover)', async () => {
    const ctr = await lab.addContainer();
    const [host, inside] = await Promise.all([lab.snapshot(lab.host), lab.snapshot(ctr.nsPath)]);
    const args = ['attach', `pid:${ctr.pid}`, parent, '--macvlan', '192.168.1.26/24@192.168.1.1'];
    const hooks = { HOSTNIC_TEST_HOOKS: '1' };
    const unchanged = async (what: string): Promise<void> => {
      expect(await macvlansIn(lab.host), what).toEqual([]);
      expect(await macvlansIn(ctr.nsPath), what).toEqual([]);
      expect(await lab.snapshot(ctr.nsPath), what).toEqual(inside);
      expect(await lab.snapshot(lab.host), what).toEqual(host);
      expect(await records(), what).toEqual([]);
    };
    // The plan: create, announce, tag, addresses, up, default route.
    for (let i = 0; i < 6; i++) {
      const r = await lab.hostnic(args, { env: { ...hooks, HOSTNIC_TEST_FAIL: String(i) } });
      expect({ i, exitCode: r.exitCode }).toEqual({ i, exitCode: 1 });
      await unchanged(`failed after step ${i}`);
    }
    const child = lab.spawnHostnic(args, { env: { ...hooks, HOSTNIC_TEST_PAUSE: 'after:2' } });
    await pausedAt(lab.stateDir, 'after:2');
    expect(await macvlansIn(ctr.nsPath)).toHaveLength(1);
    process.kill(child.pid!, 'SIGKILL');
    await waitForExit(child);
    await lab.inNs(lab.host, ['rm', '-f', join(lab.stateDir, 'test-paused')]);
    const rec = await lab.hostnic(['recover']);
    expect(rec.exitCode, rec.stderr).toBe(0);
    await unchanged('recovered after SIGKILL');
    await ctr.kill();
  }, 30_000);

  it('refuses what cannot be a parent or a mode (exit 2, one line, nothing changed)', async () => {
    const ctr = await lab.addContainer();
    const down = await lab.addNic({ up: false });
    const child = `mv${lab.id}`.slice(0, 15);
    expect((await lab.inNs(lab.host, ['ip', 'link', 'add', 'link', parent, 'name', child, 'up', 'type', 'macvlan'])).exitCode).toBe(0);
    const [host, inside] = await Promise.all([lab.snapshot(lab.host), lab.snapshot(ctr.nsPath)]);
    const cases: [string[], RegExp][] = [
      [[parent, '--macvlan', '--macvlan-mode', 'bogus'], /unknown --macvlan-mode "bogus"/],
      [[parent, '--macvlan', '--macvlan-mode', 'passthru'], /passthru is not supported/],
      [[parent, '--macvlan-mode', 'vepa'], /--macvlan-mode needs --macvlan/],
      [['lo', '--macvlan'], /lo is the loopback device/],
      [[child, '--macvlan'], new RegExp(`${child} is itself a macvlan child`)],
      [[down, '--macvlan'], new RegExp(`${down} is down: a macvlan child needs its parent up`)],
    ];
    for (const [args, message] of cases) {
      const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, ...args, '192.168.1.25/24']);
      expect({ args, exitCode: r.exitCode }).toEqual({ args, exitCode: 2 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('hostnic:'))).toHaveLength(1);
    }
    expect(await lab.snapshot(lab.host)).toEqual(host);
    expect(await lab.snapshot(ctr.nsPath)).toEqual(inside);
    expect(await records()).toEqual([]);
    await lab.inNs(lab.host, ['ip', 'link', 'del', child]);
    await ctr.kill();
  }, 30_000);
});
