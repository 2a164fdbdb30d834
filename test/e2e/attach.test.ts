/**
 * attach/detach against the real kernel, in a throwaway lab: a "host"
 * namespace where hostnic runs, a "cloud" with a bridge and the gateway, veth
 * NICs, and containers as processes in namespaces of their own.
 */
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLab, listNetns, requireRoot, type Lab, type Proc, type Snapshot } from '../helpers/lab.js';
import { comparable, giveDefaultRoute, pausedAt, resume, hostnicTempNamespaces, linkIn, routesVia, takeHostName } from '../helpers/hostnic.js';

const root = requireRoot();

/**
 * Watch a namespace's link events (`ip -o monitor link`) and kernel uevents
 * of network devices (`udevadm monitor --kernel`) until stop(). Links: the
 * name of each event's link (lo and the lab's own links excepted by the
 * caller). Uevents: "ACTION NAME" of each net device event.
 */
function watchHostLinks(nsPath: string): { ready: Promise<void>; stop(): Promise<{ links: { name: string; line: string }[]; uevents: string[] }> } {
  const mon = spawn('nsenter', [`--net=${nsPath}`, '--', 'ip', '-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const udev = spawn('nsenter', [`--net=${nsPath}`, '--', 'udevadm', 'monitor', '--kernel', '--subsystem-match=net'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let monOut = '';
  let udevOut = '';
  mon.stdout.setEncoding('utf8').on('data', (d: string) => { monOut += d; });
  udev.stdout.setEncoding('utf8').on('data', (d: string) => { udevOut += d; });
  const ended = (c: ReturnType<typeof spawn>) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve();
    else c.once('exit', () => resolve());
  });
  // udevadm says so once it listens; ip monitor listens at once. A short settle covers both.
  const ready = (async () => {
    const deadline = Date.now() + 5000;
    while (!/monitor will print/.test(udevOut) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
  })();
  let result: { links: { name: string; line: string }[]; uevents: string[] } | undefined;
  return {
    ready,
    async stop() {
      if (result) return result;
      await new Promise((r) => setTimeout(r, 300)); // let the last events arrive
      mon.kill('SIGTERM');
      udev.kill('SIGTERM');
      await Promise.all([ended(mon), ended(udev)]);
      const links = monOut.split('\n').filter((l) => l.trim() !== '')
        .map((line) => ({ name: /^(?:Deleted )?\d+: ([^:@\s]+)/.exec(line)?.[1] ?? '?', line }));
      const uevents = udevOut.split('\n')
        .map((l) => /^KERNEL\[[\d.]+\]\s+(\w+)\s+\S*\/net\/([^/\s]+) \(net\)/.exec(l))
        .flatMap((m) => (m ? [`${m[1]} ${m[2]}`] : []));
      result = { links, uevents };
      return result;
    },
  };
}


describe.skipIf(!root)('attach and detach (real kernel)', () => {
  let lab: Lab;
  /**
   * The tests that run attach and detach with IPv6 DAD on, as on a real host:
   * addresses and routes added while the addresses are still tentative. The
   * others test something else (selection, refusals, records, renames, what
   * the host sees) and run without DAD (LabOptions.dad): with it, each of
   * their snapshots after a NIC came up or back waited 1-2 s for DAD.
   */
  const WITH_DAD = /^moves the NIC in with name|^takes the private namespace/;
  beforeEach(async ({ task }) => { lab = await createLab({ dad: WITH_DAD.test(task.name) }); });
  afterEach(async () => { await lab.destroy(); });

  it('moves the NIC in with name, MAC, MTU, IPv4+IPv6, routes; detach restores host and container exactly', async () => {
    const nic = await lab.addNic({ mtu: 1450, addrs: ['10.50.0.2/24'], alias: 'vpc secondary' });
    await lab.inNs(lab.host, ['ip', 'route', 'add', '10.60.0.0/16', 'via', '10.50.0.1', 'dev', nic]);
    // An address with a finite lifetime, as DHCP leaves one: it must come back finite, not permanent.
    await lab.inNs(lab.host, ['ip', 'addr', 'add', '10.50.1.2/24', 'dev', nic, 'valid_lft', '3600', 'preferred_lft', '1800']);
    await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.arp_ignore=2`]);
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);

    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.4/24@192.168.1.1', 'fd00:1::4/64@fd00:1::1',
      '--name', 'cloud0', '--mac', '02:aa:bb:cc:dd:04', '--mtu', '1400', '--route', '198.51.100.0/24@192.168.1.1']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);

    // The host no longer has the NIC; the container has it, configured.
    const host = await lab.snapshot(lab.host);
    expect(host.links.map((l) => l.ifname)).not.toContain(nic);
    const ctrSnap = await lab.snapshot(ctr.nsPath);
    const link = linkIn(ctrSnap, 'cloud0');
    expect(link.address).toBe('02:aa:bb:cc:dd:04');
    expect(link.mtu).toBe(1400);
    expect(link.flags).toContain('UP');
    expect(link.addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(expect.arrayContaining(['192.168.1.4/24', 'fd00:1::4/64']));
    expect(link.sysctl['ipv4.arp_notify']).toBe('1');
    expect(link.sysctl['ipv6.ndisc_notify']).toBe('1');
    expect(String(link.ifalias)).toMatch(/^hostnic:1\/id=\w+\/n=nic1\//);
    // Default routes replaced (the old one via eth0 is gone), extra route added.
    expect(routesVia(ctrSnap.routes4, 'default')).toEqual([{ gateway: '192.168.1.1', dev: 'cloud0' }]);
    expect(routesVia(ctrSnap.routes6, 'default')).toEqual([{ gateway: 'fd00:1::1', dev: 'cloud0' }]);
    expect(routesVia(ctrSnap.routes4, '198.51.100.0/24')).toEqual([{ gateway: '192.168.1.1', dev: 'cloud0' }]);

    // Traffic flows both ways, IPv4 and IPv6, and through the extra route.
    expect(await lab.ping(ctr.nsPath, lab.gw4)).toBe(true);
    expect(await lab.ping(lab.cloud, '192.168.1.4')).toBe(true);
    expect(await lab.ping(ctr.nsPath, lab.gw6)).toBe(true);
    expect(await lab.ping(lab.cloud, 'fd00:1::4')).toBe(true);
    expect(await lab.ping(ctr.nsPath, lab.remote4)).toBe(true);

    const status = await lab.hostnic(['status', '--json']);
    expect(status.exitCode).toBe(0);
    const doc = JSON.parse(status.stdout) as { attachments: { nic: string; name: string; status: string }[] };
    expect(doc.attachments).toEqual([expect.objectContaining({ nic, name: 'cloud0', status: 'in place' })]);

    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(await hostnicTempNamespaces()).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'journal'))).toEqual([]);
  });

  it('selects the NIC by MAC, names it eth1 by default, works on a named netns; the same attach twice is a no-op', async () => {
    const nic = await lab.addNic({ mac: '02:00:00:00:aa:01' });
    const ns = await lab.addNetns();
    const before = await lab.snapshot(`/run/netns/${ns}`);
    const args = ['attach', `netns:${ns}`, 'mac:02:00:00:00:AA:01', '192.168.1.5/24'];
    expect((await lab.hostnic(args)).exitCode).toBe(0);
    const snap = await lab.snapshot(`/run/netns/${ns}`);
    expect(linkIn(snap, 'eth1').addrs.map((a) => a.local)).toContain('192.168.1.5');

    const again = await lab.hostnic(args);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/already attached/);
    expect(comparable(await lab.snapshot(`/run/netns/${ns}`))).toEqual(comparable(snap));

    const other = await lab.hostnic(['attach', `netns:${ns}`, nic, '192.168.1.6/24']);
    expect(other.exitCode).toBe(2);
    expect(other.stderr).toMatch(/already attached to netns:.* as eth1/);
    expect(other.stderr).toMatch(/hostnic detach/);

    expect((await lab.hostnic(['detach', `netns:${ns}`])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(`/run/netns/${ns}`))).toEqual(comparable(before));
  });

  it("a /32 address reaches its gateway as the parser's hint says (--route GW/32 --route default@GW): the container's default route replaced, put back on detach", async () => {
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const before = await lab.snapshot(ctr.nsPath);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.77/32', '--route', '192.168.1.1/32', '--route', 'default@192.168.1.1']);
    expect(r.exitCode, r.stderr).toBe(0);
    const defaults = (await lab.snapshot(ctr.nsPath)).routes4.filter((x) => x.dst === 'default');
    expect(defaults).toEqual([expect.objectContaining({ gateway: '192.168.1.1', dev: 'eth1' })]);
    expect(await lab.ping(ctr.nsPath, lab.remote4)).toBe(true);
    expect((await lab.hostnic(['status', '--json'])).stdout).toMatch(/"status": "in place"/);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(before));
  });

  it('--route ::/0 and 0.0.0.0/0 without a next hop: default routes on the link, each in its family, the container\'s own put back on detach', async () => {
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const before = await lab.snapshot(ctr.nsPath);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.78/24', 'fd00:1::78/64', '--route', '0.0.0.0/0', '--route', '::/0']);
    expect(r.exitCode, r.stderr).toBe(0);
    const snap = await lab.snapshot(ctr.nsPath);
    expect(snap.routes4.filter((x) => x.dst === 'default')).toEqual([expect.objectContaining({ dev: 'eth1' })]);
    expect(snap.routes4.find((x) => x.dst === 'default')?.gateway).toBeUndefined();
    expect(snap.routes6.filter((x) => x.dst === 'default' && x.dev === 'eth1')).toHaveLength(1);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(before));
  });

  it("refuses the NIC that carries the host's default route; with --force it moves it and detach restores the routes", async () => {
    const uplink = await lab.addPrimary();
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    const refused = await lab.hostnic(['attach', `pid:${ctr.pid}`, uplink, '192.168.1.7/24']);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe(`hostnic: ${uplink} carries this host's default route: moving it would cut the machine off`);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));

    const forced = await lab.hostnic(['attach', `pid:${ctr.pid}`, uplink, '192.168.1.7/24', '--force']);
    expect(forced.exitCode).toBe(0);
    expect(routesVia((await lab.snapshot(lab.host)).routes4, 'default')).toEqual([]);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });

  it('also refuses a NIC that is one hop of a multipath default route', async () => {
    const a = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const b = await lab.addNic({ addrs: ['10.51.0.2/24'] });
    await lab.inNs(lab.host, ['ip', 'route', 'add', 'default', 'nexthop', 'via', '10.50.0.1', 'dev', a, 'nexthop', 'via', '10.51.0.1', 'dev', b]);
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    for (const nic of [a, b]) {
      const refused = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.8/24']);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr.split('\n')[0]).toBe(`hostnic: ${nic} carries this host's default route: moving it would cut the machine off`);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('status and detach work when the record is corrupted or the state directory wiped (from the tag on the NIC)', async () => {
    const nic = await lab.addNic({ mtu: 1480 });
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.8/24@192.168.1.1', '--mac', '02:00:00:00:00:08', '--mtu', '1400'])).exitCode).toBe(0);
    // A corrupted record: status names the file and finds the NIC by its tag anyway.
    const [recordFile] = readdirSync(join(lab.stateDir, 'attachments'));
    writeFileSync(join(lab.stateDir, 'attachments', recordFile!), '{ not json');
    type Row = { nic: string; name: string; target: string; status: string; addresses: string[] };
    const corrupt = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: Row[]; unreadable: { file: string }[] };
    expect(corrupt.unreadable.map((b) => b.file)).toEqual([join(lab.stateDir, 'attachments', recordFile!)]);
    expect(corrupt.attachments).toEqual([expect.objectContaining({ nic, name: 'eth1', target: `pid:${ctr.pid}`, status: 'untracked', addresses: ['192.168.1.8/24'] })]);
    rmSync(lab.stateDir, { recursive: true, force: true });
    // No state at all: plain status knows nothing, status --scan finds it.
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout).attachments).toEqual([]);
    const scanned = JSON.parse((await lab.hostnic(['status', '--json', '--scan'])).stdout) as { attachments: Row[] };
    expect(scanned.attachments).toEqual([expect.objectContaining({ nic, target: `pid:${ctr.pid}`, status: 'untracked' })]);
    // A detach from the tag that fails at its last step puts everything back: the tag (else nothing
    // could find the NIC again), the MAC and the MTU included.
    const ctrAttached = await lab.snapshot(ctr.nsPath);
    const plan = JSON.parse((await lab.hostnic(['detach', `pid:${ctr.pid}`, '--dry-run', '--json'])).stdout) as { plans: { steps: unknown[] }[] };
    const last = plan.plans[0]!.steps.length - 1;
    const failed = await lab.hostnic(['detach', `pid:${ctr.pid}`], { env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: String(last) } });
    expect(failed.exitCode, failed.stderr).toBe(1);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrAttached));
    expect(linkIn(await lab.snapshot(ctr.nsPath), 'eth1')).toMatchObject({ mtu: 1400, address: '02:00:00:00:00:08' });
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    // Nothing else to say but what a detach without its record could not know (this NIC had none of it).
    expect(d.stderr).toMatch(new RegExp(`^hostnic: warning: ${nic} had no record \\(state directory lost\\?\\): [^\\n]*\\n$`));
    expect(d.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
  });

  it('detach finds the NIC after it was renamed inside the container', async () => {
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    const hostBefore = await lab.snapshot(lab.host);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.9/24'])).exitCode).toBe(0);
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'eth1', 'down']);
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'eth1', 'name', 'renamed0']);
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'renamed0', 'up']);
    const s = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string; detail: string }[] };
    expect(s.attachments[0]).toMatchObject({ status: 'drifted' });
    expect(s.attachments[0]!.detail).toMatch(/renamed to renamed0/);
    expect((await lab.hostnic(['detach', `pid:${ctr.pid}`, 'renamed0'])).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
  });

  it('a NIC moved back into the host by hand while its container runs: status says where it is, detach restores its host identity there', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    const hostBefore = await lab.snapshot(lab.host);
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.11/24', '--name', 'cloud0', '--mtu', '1400'])).exitCode).toBe(0);
    expect((await lab.inNs(ctr.nsPath, ['ip', 'link', 'set', 'dev', 'cloud0', 'netns', lab.hostNs])).exitCode).toBe(0);
    const s = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string; where: string; detail: string }[] };
    expect(s.attachments[0]).toMatchObject({ status: 'drifted', where: 'host' });
    expect(s.attachments[0]!.detail).toMatch(/in the host as cloud0/);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode, d.stderr).toBe(0);
    // Its name, MTU and address as before the attach; nothing of ours left in the container.
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
  });

  it('a container that died with a virtual NIC: status says so, detach cleans the record', async () => {
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    expect((await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.10/24'])).exitCode).toBe(0);
    await ctr.kill();
    const s = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: { status: string; detail: string }[] };
    expect(s.attachments[0]).toMatchObject({ status: 'target gone' });
    expect(s.attachments[0]!.detail).toMatch(/veth NIC was destroyed/);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
    expect(d.exitCode).toBe(0);
    expect(d.stdout).toMatch(/record removed/);
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
  });

  it('takes the private namespace when the host name is taken in the container, and detach restores both sides exactly', async () => {
    const nic = await lab.addNic({ mtu: 1450, addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    // The container has a link of its own named like the host NIC.
    await takeHostName(lab, ctr, nic);
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const args = ['attach', `pid:${ctr.pid}`, nic, '192.168.1.12/24@192.168.1.1', '--verbose'];
    const r = await lab.hostnic(args);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\$ ip netns add hostnic-\w+/);
    expect(r.stderr).toMatch(new RegExp(`nsenter --net=/run/netns/hostnic-\\w+ -- ip -batch - <<'EOF'\\nlink set dev ${nic} name eth1\\nlink set dev eth1 address `));
    const link = linkIn(await lab.snapshot(ctr.nsPath), 'eth1');
    expect(link.addrs.map((a) => a.local)).toContain('192.168.1.12');
    expect(linkIn(await lab.snapshot(ctr.nsPath), nic).ifalias).toBeUndefined(); // the container's own link is untouched
    expect(await lab.ping(ctr.nsPath, lab.gw4)).toBe(true);
    expect(await hostnicTempNamespaces()).toEqual([]);

    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--verbose']);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/\$ ip netns add hostnic-\w+/);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(await hostnicTempNamespaces()).toEqual([]);
  });

  it('attached directly, detach goes through the private namespace when the host name was taken in the container since', async () => {
    const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
    const ctr = await lab.addContainer();
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.13/24', '--verbose']);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(a.stderr).not.toMatch(/netns add/);
    // The host batch (bring it down, move it) checks who the NIC is once for both steps (runner: shared preflight reads).
    expect(a.stderr.match(new RegExp(`\\$ ip -json link show dev ${nic} `, 'g')), a.stderr).toHaveLength(1);
    await takeHostName(lab, ctr, nic);
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, '--verbose']);
    expect(d.exitCode, d.stderr).toBe(0);
    expect(d.stderr).toMatch(/\$ ip netns add hostnic-\w+/);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    // The container kept its own link of that name; without it, it is as before.
    expect(linkIn(await lab.snapshot(ctr.nsPath), nic).ifalias).toBeUndefined();
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'del', nic]);
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(await hostnicTempNamespaces()).toEqual([]);
  });

  /**
   * What the host's udev and NetworkManager could act on: the link events
   * (rtnetlink, what NetworkManager listens to) and kernel uevents (what udev
   * reads) in the host namespace while the NIC leaves and comes back. The
   * NIC must only ever appear there under its host name, and never be
   * renamed there. The variants: the direct path; the host name taken in
   * the container at attach (private path both ways); taken only at detach
   * (direct in, private out). A one-message move-and-rename out of the
   * container would show the container-side name here first (measured:
   * "add eth1" then "move nic1", with eth1 free in the host).
   */
  for (const variant of ['direct', 'taken at attach', 'taken at detach'] as const) {
    it(`the host sees the NIC only under its host name, never a rename (${variant})`, async () => {
      const nic = await lab.addNic({ addrs: ['10.50.0.2/24'] });
      const ctr = await lab.addContainer();
      if (variant === 'taken at attach') await takeHostName(lab, ctr, nic);
      const watch = watchHostLinks(lab.hostNs);
      try {
        await watch.ready;
        const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.14/24']);
        expect(a.exitCode, a.stderr).toBe(0);
        if (variant === 'taken at detach') await takeHostName(lab, ctr, nic);
        const d = await lab.hostnic(['detach', `pid:${ctr.pid}`]);
        expect(d.exitCode, d.stderr).toBe(0);
        const seen = await watch.stop();
        // It left (remove) and came back (add), both under its host name, and nothing else.
        expect(seen.uevents).toEqual([`remove ${nic}`, `add ${nic}`]);
        expect(seen.links.length).toBeGreaterThan(0);
        expect(seen.links.filter((l) => l.name !== nic)).toEqual([]);
      } finally {
        await watch.stop();
      }
      expect(await hostnicTempNamespaces()).toEqual([]);
    });
  }

  it('--dry-run prints every step with its exact commands and changes nothing', async () => {
    const nic = await lab.addNic();
    const ctr = await lab.addContainer();
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    const r = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '192.168.1.11/24@192.168.1.1', '--dry-run']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`nsenter --net=/proc/${ctr.pid}/ns/net -- ip addr add 192.168.1.11/24 dev eth1`);
    // One move, straight into the container: the host name is free there.
    expect(r.stdout).toContain(`ip link set dev nic1 netns /proc/${ctr.pid}/ns/net`);
    expect(r.stdout).not.toMatch(/netns add|\/run\/netns\//);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(existsSync(join(lab.stateDir, 'journal')) ? readdirSync(join(lab.stateDir, 'journal')) : []).toEqual([]);
  });
});

describe.skipIf(!root)('attach rolls back every step (real failures)', () => {
  let lab: Lab;
  let nic: string;
  let ctr: Proc;
  let hostBefore: Snapshot;
  let ctrBefore: Snapshot;
  const request = (): string[] => ['attach', `pid:${ctr.pid}`, nic, '192.168.1.20/24@192.168.1.1', 'fd00:1::20/64',
    '--route', '198.51.100.0/24@192.168.1.1', '--mtu', '1400'];

  beforeEach(async () => {
    // No IPv6 DAD: every rollback puts fd00:50::2 back, and each snapshot would wait for its DAD (~1-2 s,
    // 25 rollbacks in this block). DAD has nothing to do with what is tested here (the rollback).
    lab = await createLab({ dad: false });
    nic = await lab.addNic({ addrs: ['10.50.0.2/24', 'fd00:50::2/64'], mtu: 1450, alias: 'before' });
    await lab.inNs(lab.host, ['ip', 'route', 'add', '10.60.0.0/16', 'via', '10.50.0.1', 'dev', nic]);
    await lab.inNs(lab.host, ['sysctl', '-qw', `net.ipv4.conf.${nic}.rp_filter=2`]);
    ctr = await lab.addContainer();
    await giveDefaultRoute(lab, ctr);
    hostBefore = await lab.snapshot(lab.host);
    ctrBefore = await lab.snapshot(ctr.nsPath);
  });
  afterEach(async () => { await lab.destroy(); });

  async function expectUnchanged(): Promise<void> {
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(await hostnicTempNamespaces()).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'journal'))).toEqual([]);
    expect(readdirSync(join(lab.stateDir, 'attachments'))).toEqual([]);
  }

  async function failEachStep(minSteps: number): Promise<void> {
    const plan = JSON.parse((await lab.hostnic([...request(), '--dry-run', '--json'])).stdout) as { plan: { steps: { title: string }[] } };
    const n = plan.plan.steps.length;
    expect(n).toBeGreaterThanOrEqual(minSteps);
    for (let i = 0; i < n; i++) {
      const r = await lab.hostnic(request(), { env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: String(i) } });
      expect.soft(r.exitCode, `step ${i} (${plan.plan.steps[i]!.title})`).toBe(1);
      expect(r.stderr).toMatch(/hostnic-test-fault.*every change was rolled back/);
      await expectUnchanged();
    }
  }

  /** The container gets a link of its own named like the host NIC: attach then goes through the private namespace. */
  async function takeHostNameInContainer(): Promise<void> {
    await takeHostName(lab, ctr, nic);
    ctrBefore = await lab.snapshot(ctr.nsPath);
  }

  it('fails each step of the plan in turn, after it ran; every time both namespaces end as they were, exit 1', async () => {
    await failEachStep(11);
  });

  it('the same on the private-namespace path (the host name is taken in the container)', async () => {
    await takeHostNameInContainer();
    const dry = await lab.hostnic([...request(), '--dry-run']);
    expect(dry.stdout).toMatch(/ip link set dev nic1 netns \/run\/netns\/hostnic-\w+/);
    await failEachStep(14);
  });

  /** Pause before step `at`, let something else create `name` in the container, resume: the kernel refuses, the rollback is exact. */
  async function clashBefore(at: number, name: string, args: string[], refusal: RegExp): Promise<void> {
    const child = lab.spawnHostnic(args, { env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_PAUSE: `before:${at}` } });
    await pausedAt(lab.stateDir, `before:${at}`);
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`]);
    resume(lab.stateDir);
    const { waitForExit } = await import('../helpers/lab.js');
    const r = await waitForExit(child);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`^hostnic: .*(${refusal.source}).*every change was rolled back$`, 'm'));
    await lab.inNs(ctr.nsPath, ['ip', 'link', 'del', name]);
    await expectUnchanged();
  }

  it('the kernel refuses the move into the container (its host name appeared there meanwhile): rolled back, exit 1', async () => {
    // Step 4 is the move, after the host side (routes, addresses, sysctl, down).
    await clashBefore(4, nic, request(), /File exists|same name/);
  });

  it('the kernel refuses the rename in the container (a name clash appeared meanwhile): rolled back, exit 1', async () => {
    // Step 6: the rename, after the move and the announcement. Refused, it must leave MAC and MTU as they were.
    await clashBefore(6, 'cloud0', [...request(), '--name', 'cloud0'], /File exists/);
  });

  it('the kernel refuses the move into the container on the private path (a name clash appeared meanwhile): rolled back, exit 1', async () => {
    await takeHostNameInContainer();
    // Step 7: private namespace, host side (4), move out of the host, rename, then the move into the container.
    await clashBefore(7, 'cloud0', [...request(), '--name', 'cloud0'], /An interface with the same name exists in the target netns/);
  });

  it('an undo that fails leaves exit 3 with the commands to finish by hand; recover then restores everything', async () => {
    const r = await lab.hostnic(request(), { env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: '10', HOSTNIC_TEST_UNDO_FAIL: '6' } });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/ROLLBACK INCOMPLETE/);
    expect(r.stderr).toMatch(/ip link set dev eth1 name nic1/);
    expect(readdirSync(join(lab.stateDir, 'journal'))).toHaveLength(1);
    // While the plan is unfinished, other commands refuse to touch that NIC.
    const blocked = await lab.hostnic(request());
    expect(blocked.exitCode).toBe(1);
    expect(blocked.stderr).toMatch(/hostnic recover/);
    const rec = await lab.hostnic(['recover']);
    expect(rec.exitCode).toBe(0);
    expect(rec.stdout).toMatch(/rolled back: Attach nic1/);
    await expectUnchanged();
  });
});

describe.skipIf(!root)('bad input: exit 2, one clear line, nothing changed', () => {
  let lab: Lab;
  afterEach(async () => { await lab?.destroy(); });

  it('rejects each case before touching anything', async () => {
    lab = await createLab({ dad: false }); // nothing moves: no DAD to wait for in the snapshots
    const nic = await lab.addNic();
    await lab.addNic({ name: 'nic7' });
    const uplink = await lab.addPrimary();
    const ctr = await lab.addContainer();
    const ns = await lab.addNetns();
    const P = `pid:${ctr.pid}`;
    const cases: [string[], RegExp][] = [
      [['attach', P, nic, '192.168.1.300/24'], /192\.168\.1\.300/],
      [['attach', P, nic, '192.168.1.4'], /prefix/],
      [['attach', P, nic, '192.168.1.4/33'], /33/],
      [['attach', P, nic, '192.168.1.4/24@10.0.0.1'], /10\.0\.0\.1 is outside 192\.168\.1\.4\/24/],
      [['attach', P, nic, '192.168.1.4/24@fd00::1'], /fd00::1/],
      [['attach', P, nic, 'fd00:1::4/64@fd00:2::1'], /outside/],
      [['attach', P, nic, '192.168.1.4/24', '192.168.1.4/24'], /192\.168\.1\.4/],
      [['attach', P, nic, '192.168.1.4/24', '--mac', '01:00:5e:00:00:01'], /multicast/],
      [['attach', P, nic, '192.168.1.4/24', '--mac', '00:00:00:00:00:00'], /00:00:00:00:00:00/],
      [['attach', P, nic, '192.168.1.4/24', '--mac', 'zz:00:00:00:00:01'], /zz:00/],
      [['attach', P, nic, '192.168.1.4/24', '--mtu', '70000'], /70000/],
      [['attach', P, nic, '192.168.1.4/24', '--mtu', '1500x'], /1500x/],
      [['attach', P, nic, '192.168.1.4/24', '--name', 'a/b'], /a\/b/],
      [['attach', P, nic, '192.168.1.4/24', '--name', 'waytoolonginterfacename'], /waytoolong/],
      [['attach', P, nic, '192.168.1.4/24', '--name', '..'], /\.\./],
      [['attach', P, nic, '192.168.1.4/24', '--name', 'lo'], /lo/],
      [['attach', P, nic, '192.168.1.4/24', '--route', '10.0.0.0/8@172.16.0.1'], /172\.16\.0\.1/],
      [['attach', P, nic, '192.168.1.4/24', '--route', '10.0.0.1/8@192.168.1.1'], /10\.0\.0\.1\/8/],
      [['attach', P, 'nic9', '192.168.1.4/24'], /no NIC nic9 in the host namespace/],
      [['attach', P, 'mac:02:00:00:00:99:99', '192.168.1.4/24'], /no NIC mac:02:00:00:00:99:99/],
      [['attach', P, 'pci:0000:00:1f.7', '192.168.1.4/24'], /no NIC pci:0000:00:1f\.7/],
      [['attach', P, uplink, '192.168.1.4/24'], /default route/],
      [['attach', 'pid:999999', nic, '192.168.1.4/24'], /no process with PID 999999/],
      [['attach', 'pid:abc', nic, '192.168.1.4/24'], /abc/],
      [['attach', 'netns:nope-nope', nic, '192.168.1.4/24'], /no network namespace named "nope-nope"/],
      [['attach', '/etc/passwd', nic, '192.168.1.4/24'], /not a network namespace/],
      [["attach", `netns:${lab.host}`, nic, "192.168.1.4/24"], /own network namespace/],
      [['attach', 'lxc:foo', nic, '192.168.1.4/24'], /lxc/],
      [['attach', P, nic, '192.168.1.4/24', '--mtu', '40'], /40/],
      [['attach', P, nic, '192.168.1.4/24', '--bogus'], /bogus/],
      [['attach', P], /nic/],
      [['attach', `netns:${ns}`, nic, '192.168.1.4/24', '--name', 'lo'], /lo/],
      [['detach', P], /nothing hostnic attached/],
      [['detach', 'pid:999999'], /no container pid:999999/],
      [['frobnicate'], /frobnicate/],
    ];
    const hostBefore = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ctr.nsPath);
    for (const [args, pattern] of cases) {
      const r = await lab.hostnic(args);
      const lines = r.stderr.trimEnd().split('\n');
      expect.soft(r.exitCode, args.join(' ')).toBe(2);
      expect.soft(lines[0], args.join(' ')).toMatch(/^hostnic: /);
      expect.soft(lines[0], args.join(' ')).toMatch(pattern);
      // One line, and at most one hint line after it.
      expect.soft(lines.length, args.join(' ')).toBeLessThanOrEqual(2);
      if (lines[1]) expect.soft(lines[1], args.join(' ')).toMatch(/^hint: /);
      expect.soft(r.stdout, args.join(' ')).toBe('');
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(hostBefore));
    expect(comparable(await lab.snapshot(ctr.nsPath))).toEqual(comparable(ctrBefore));
    expect(await listNetns()).not.toContain(expect.stringMatching(/^hostnic-/));
  });
});
