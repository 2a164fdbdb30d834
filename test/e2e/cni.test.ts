/**
 * hostnic as a CNI plugin, called as runtimes call it (the protocol
 * directly): every command, every spec version, the error cases, ADD twice,
 * DEL after the namespace is gone and after a rename inside, GC, STATUS.
 * Every test compares the lab host before ADD and after DEL.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLab, delay, requireRoot, type Lab } from '../helpers/lab.js';
import { comparable, hostnicTempNamespaces } from '../helpers/hostnic.js';
import { cni, errorOf, staticConf } from '../helpers/cni.js';

const root = requireRoot();
const cid = (): string => `ctr${randomBytes(6).toString('hex')}`;

describe.skipIf(!root)('CNI plugin mode (the protocol, real kernel)', () => {
  let lab: Lab;
  let net: string;
  beforeEach(async () => {
    // No IPv6 DAD (LabOptions.dad): the containers get IPv4 only; DEL gives the host NIC its fd00:1::20 back, and every
    // snapshot after that would wait for its DAD. Attach and detach with DAD running: attach.test.ts, restore.test.ts.
    lab = await createLab({ dad: false });
    net = `hn-test-${lab.id}`;
  });
  afterEach(async () => { await lab.destroy(); });

  const conf = (version: string, device: string, extra: Record<string, unknown> = {}) => staticConf(version, net, device, {
    addresses: ['192.168.1.10/24'], gateway: '192.168.1.1', routes: [{ dst: '0.0.0.0/0' }, { dst: '198.51.100.1/32' }],
  }, extra);

  // Debian's IPAM plugins speak up to 1.0.0: the 1.1.0 row has no IPAM (an address-less NIC, as host-device without ipam).
  it.each(['0.4.0', '1.0.0', '1.1.0'])('cniVersion %s: ADD configures the NIC inside, CHECK passes, DEL restores the host exactly', async (version) => {
    const v11 = version === '1.1.0';
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24', 'fd00:1::20/64'], mtu: 1400, alias: 'uplink to the VPC' });
    const ns = `/run/netns/${await lab.addNetns()}`;
    const id = cid();
    const before = await lab.snapshot(lab.host);

    const config = conf(version, nic, { mtu: 1300, mac: '02:00:00:12:34:56', ...(v11 ? { ipam: undefined } : {}) });
    const add = await cni(lab, { command: 'ADD', containerId: id, netns: ns, ifname: 'net1', config });
    expect(add.stderr).toBe('');
    expect(add.exitCode).toBe(0);
    const result = JSON.parse(add.stdout) as Record<string, any>;
    expect(result.cniVersion).toBe(version);
    expect(result.interfaces).toEqual([{ name: 'net1', mac: '02:00:00:12:34:56', sandbox: ns, ...(v11 ? { mtu: 1300 } : {}) }]);
    expect(result.ips).toEqual(v11 ? [] : [{ ...(version === '0.4.0' ? { version: '4' } : {}), address: '192.168.1.10/24', gateway: '192.168.1.1', interface: 0 }]);
    expect(result.routes).toEqual(v11 ? [] : [{ dst: '0.0.0.0/0' }, { dst: '198.51.100.1/32' }]);
    // The NIC inside, as configured; the host no longer has it.
    const inside = await lab.snapshot(ns);
    const link = inside.links.find((l) => l.ifname === 'net1')!;
    expect(link).toMatchObject({ address: '02:00:00:12:34:56', mtu: 1300 });
    expect(link.flags).toContain('UP');
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).not.toContain(nic);
    if (!v11) {
      expect(link.addrs).toContainEqual(expect.objectContaining({ local: '192.168.1.10', prefixlen: 24 }));
      expect(inside.routes4).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '192.168.1.1', dev: 'net1' }));
      expect(inside.routes4).toContainEqual(expect.objectContaining({ dst: '198.51.100.1', gateway: '192.168.1.1', dev: 'net1' }));
      expect(await lab.ping(ns, lab.remote4)).toBe(true);
    }
    // status shows it with the container ID and the network.
    const status = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: Record<string, any>[] };
    expect(status.attachments).toEqual([expect.objectContaining({
      nic, name: 'net1', status: 'in place', target: `cni:${net}/${id.slice(0, 12)}`, cni: { containerId: id, network: net, ifname: 'net1' },
    })]);

    const check = await cni(lab, { command: 'CHECK', containerId: id, netns: ns, ifname: 'net1', config: { ...config, prevResult: result } });
    expect(check.stdout).toBe('');
    expect(check.exitCode).toBe(0);

    const del = await cni(lab, { command: 'DEL', containerId: id, netns: ns, ifname: 'net1', config });
    expect(del.stdout).toBe('');
    expect(del.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expect((await lab.snapshot(ns)).links.map((l) => l.ifname)).toEqual(['lo']);
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout).attachments).toEqual([]);
    // A second DEL, and a DEL of something never added: success, nothing changes.
    for (const again of [{ containerId: id, netns: ns }, { containerId: cid(), netns: '' }]) {
      const r = await cni(lab, { command: 'DEL', ifname: 'net1', config, ...again });
      expect([r.exitCode, r.stdout]).toEqual([0, '']);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expect(await hostnicTempNamespaces()).toEqual([]);
  });

  it('CHECK fails with the spec error when the address or the default route drifted; ADD twice gives the same result', async () => {
    const nic = await lab.addNic();
    const ns = `/run/netns/${await lab.addNetns()}`;
    const id = cid();
    const call = { containerId: id, netns: ns, ifname: 'eth0', config: conf('1.0.0', nic) };
    const add = await cni(lab, { command: 'ADD', ...call });
    expect(add.exitCode).toBe(0);
    const twice = await cni(lab, { command: 'ADD', ...call });
    expect([twice.exitCode, twice.stdout]).toEqual([0, add.stdout]);
    expect(readdirSync(`${lab.stateDir}/attachments`)).toHaveLength(1);

    await lab.inNs(ns, ['ip', 'route', 'del', 'default']);
    let check = await cni(lab, { command: 'CHECK', ...call });
    expect(check.exitCode).not.toBe(0);
    expect(errorOf(check)).toMatchObject({ cniVersion: '1.0.0', code: 103, msg: expect.stringContaining('no IPv4 default route via 192.168.1.1 dev eth0') });
    await lab.inNs(ns, ['ip', 'addr', 'del', '192.168.1.10/24', 'dev', 'eth0']);
    check = await cni(lab, { command: 'CHECK', ...call });
    expect(errorOf(check)).toMatchObject({ code: 103, msg: expect.stringContaining('missing 192.168.1.10/24') });
    // A drifted attachment is not "added already": a second ADD refuses, changing nothing.
    const refused = await cni(lab, { command: 'ADD', ...call });
    expect(errorOf(refused).code).toBe(100);
    expect((await cni(lab, { command: 'DEL', ...call })).exitCode).toBe(0);
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).toContain(nic);
  });

  it('DEL after `ip netns del`: the NIC came back to the host (as its inside name, or devN), or died with it (virtual): exit 0, host as before', async () => {
    const a = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const b = await lab.addNic({ addrs: ['192.168.1.21/24'] });
    const c = await lab.addNic({ addrs: ['192.168.1.22/24'] });
    const before = await lab.snapshot(lab.host);
    const peerC = lab.peerOf(c);
    const nss = [await lab.addNetns(), await lab.addNetns(), await lab.addNetns()];
    const ids = [cid(), cid(), cid()];
    for (const [k, nic] of [a, b, c].entries()) {
      const r = await cni(lab, { command: 'ADD', containerId: ids[k], netns: `/run/netns/${nss[k]}`, ifname: 'net1', config: conf('1.0.0', nic, { ipam: undefined }) });
      expect(r.exitCode).toBe(0);
    }
    // What the kernel does with a physical NIC when its namespace dies: back to the initial one, under its name, or devN when taken.
    await lab.inNs(nss[0]!, ['ip', 'link', 'set', 'dev', 'net1', 'netns', lab.hostNs]);
    await lab.inNs(nss[1]!, ['ip', 'link', 'set', 'dev', 'net1', 'netns', lab.hostNs, 'name', 'dev7']);
    for (const n of nss) await lab.inNs(lab.host, ['ip', 'netns', 'del', n]);
    expect(existsSync(`/run/netns/${nss[2]}`)).toBe(false);

    for (const [k, nic] of [a, b, c].entries()) {
      // CNI_NETNS as the runtime had it (gone now), and once without it.
      const r = await cni(lab, { command: 'DEL', containerId: ids[k], ifname: 'net1', netns: k === 2 ? '' : `/run/netns/${nss[k]}`, config: conf('1.0.0', nic, { ipam: undefined }) });
      expect([r.exitCode, r.stdout]).toEqual([0, '']);
    }
    // a and b are home exactly; c (a veth) died with the namespace, and its peer with it.
    const after = comparable(await lab.snapshot(lab.host));
    const expected = comparable(before);
    expect(after.links).toEqual(expected.links.filter((l) => l.ifname !== c));
    expect(after.routes4).toEqual(expected.routes4.filter((r) => r.dev !== c));
    expect(after.routes6).toEqual(expected.routes6.filter((r) => r.dev !== c));
    expect(after.conf).toEqual(expected.conf);
    expect((await lab.snapshot(lab.cloud)).links.map((l) => l.ifname)).not.toContain(peerC);
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout).attachments).toEqual([]);
  });

  it('DEL after the NIC was renamed and taken down inside: exit 0, host as before', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const ns = `/run/netns/${await lab.addNetns()}`;
    const id = cid();
    const before = await lab.snapshot(lab.host);
    expect((await cni(lab, { command: 'ADD', containerId: id, netns: ns, ifname: 'net1', config: conf('1.0.0', nic) })).exitCode).toBe(0);
    await lab.inNs(ns, ['ip', 'link', 'set', 'dev', 'net1', 'down']);
    await lab.inNs(ns, ['ip', 'link', 'set', 'dev', 'net1', 'name', 'renamed0']);
    const del = await cni(lab, { command: 'DEL', containerId: id, netns: ns, ifname: 'net1', config: conf('1.0.0', nic) });
    expect([del.exitCode, del.stdout]).toEqual([0, '']);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });

  it('GC (1.1.0) releases the attachments the runtime no longer lists, of this network only; STATUS and VERSION', async () => {
    const [a, b] = [await lab.addNic(), await lab.addNic()];
    const before = await lab.snapshot(lab.host);
    const [na, nb] = [`/run/netns/${await lab.addNetns()}`, `/run/netns/${await lab.addNetns()}`];
    const [ia, ib] = [cid(), cid()];
    const conf11 = (nic: string) => conf('1.1.0', nic, { ipam: undefined });
    expect((await cni(lab, { command: 'ADD', containerId: ia, netns: na, ifname: 'net1', config: conf11(a) })).exitCode).toBe(0);
    expect((await cni(lab, { command: 'ADD', containerId: ib, netns: nb, ifname: 'net1', config: conf11(b) })).exitCode).toBe(0);
    const gcConf = { cniVersion: '1.1.0', name: net, type: 'hostnic', 'cni.dev/valid-attachments': [{ containerID: ia, ifname: 'net1' }] };
    // Another network's GC leaves both.
    expect((await cni(lab, { command: 'GC', config: { ...gcConf, name: `${net}-other`, 'cni.dev/valid-attachments': [] } })).exitCode).toBe(0);
    expect((await lab.snapshot(nb)).links.map((l) => l.ifname)).toContain('net1');
    const gc = await cni(lab, { command: 'GC', config: gcConf });
    expect([gc.exitCode, gc.stdout]).toEqual([0, '']);
    expect((await lab.snapshot(nb)).links.map((l) => l.ifname)).toEqual(['lo']);
    expect((await lab.snapshot(na)).links.map((l) => l.ifname)).toContain('net1');
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).toContain(b);
    expect((await cni(lab, { command: 'DEL', containerId: ia, netns: na, ifname: 'net1', config: conf11(a) })).exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));

    const status = await cni(lab, { command: 'STATUS', config: { cniVersion: '1.1.0', name: net, type: 'hostnic', ipam: { type: 'static' } } });
    expect([status.exitCode, status.stdout]).toEqual([0, '']);
    const missing = await cni(lab, { command: 'STATUS', config: { cniVersion: '1.1.0', name: net, type: 'hostnic', ipam: { type: 'no-such-ipam' } } });
    expect(errorOf(missing)).toMatchObject({ cniVersion: '1.1.0', code: 50 });
    const version = await cni(lab, { command: 'VERSION', config: { cniVersion: '1.0.0' } });
    expect(JSON.parse(version.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: ['0.4.0', '1.0.0', '1.1.0'] });
  });

  it('in a conflist: prevResult is read and passed on with this interface after the previous ones', async () => {
    const nic = await lab.addNic();
    const ns = `/run/netns/${await lab.addNetns()}`;
    const prevResult = { cniVersion: '1.0.0', interfaces: [{ name: 'eth0', sandbox: ns }], ips: [{ address: '10.88.0.5/16', interface: 0 }], dns: { nameservers: ['10.88.0.1'] } };
    const call = { containerId: cid(), netns: ns, ifname: 'net1', config: { ...conf('1.0.0', nic), prevResult } };
    const add = await cni(lab, { command: 'ADD', ...call });
    expect(add.exitCode).toBe(0);
    const r = JSON.parse(add.stdout) as Record<string, any>;
    expect(r.interfaces.map((i: { name: string }) => i.name)).toEqual(['eth0', 'net1']);
    expect(r.ips).toEqual([{ address: '10.88.0.5/16', interface: 0 }, { address: '192.168.1.10/24', gateway: '192.168.1.1', interface: 1 }]);
    expect(r.dns).toEqual({ nameservers: ['10.88.0.1'] });
    expect((await cni(lab, { command: 'DEL', ...call })).exitCode).toBe(0);
  });

  it('DEL with a host route that cannot come back: exit 0, the command on stderr, the NIC home, `hostnic status` keeps showing it until cleared', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const other = await lab.addNic({ addrs: ['192.168.1.50/24'] });
    // A route through the NIC whose source address is another link's: it cannot come back while that address is gone.
    const route = ['203.0.113.0/24', 'via', '192.168.1.1', 'dev', nic, 'src', '192.168.1.50', 'table', '100'];
    expect((await lab.inNs(lab.host, ['ip', 'route', 'add', ...route])).exitCode).toBe(0);
    const ns = `/run/netns/${await lab.addNetns()}`;
    const id = cid();
    const before = await lab.snapshot(lab.host);
    const call = { containerId: id, netns: ns, ifname: 'net1', config: conf('1.0.0', nic) };
    expect((await cni(lab, { command: 'ADD', ...call })).exitCode).toBe(0);
    expect((await lab.inNs(lab.host, ['ip', 'addr', 'del', '192.168.1.50/24', 'dev', other])).exitCode).toBe(0);

    const del = await cni(lab, { command: 'DEL', ...call });
    expect([del.exitCode, del.stdout]).toEqual([0, '']);
    const cmd = `ip route add ${route.join(' ')}`;
    expect(del.stderr).toContain(cmd);
    expect(del.stderr).toContain('hostnic status');
    // The NIC is home, nothing is left in the container, the record is gone.
    expect((await lab.snapshot(lab.host)).links.map((l) => l.ifname)).toContain(nic);
    expect((await lab.snapshot(ns)).links.map((l) => l.ifname)).toEqual(['lo']);
    const status = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: unknown[]; incomplete: Record<string, any>[] };
    expect(status.attachments).toEqual([]);
    expect(status.incomplete).toEqual([expect.objectContaining({
      nic, target: `cni:${net}/${id.slice(0, 12)}`, cni: { containerId: id, network: net, ifname: 'net1' },
      notDone: [expect.objectContaining({ commands: [cmd] })],
    })]);
    const noteId = status.incomplete[0]!.id as string;
    const text = await lab.hostnic(['status']);
    expect(text.exitCode).toBe(0);
    expect(text.stderr).toContain(`incomplete restore ${noteId}: ${nic}`);
    expect(text.stderr).toContain(cmd);
    expect(text.stderr).toContain(`hostnic recover --abandon ${noteId}`);
    // A second DEL has nothing to give back and keeps the note; the operator runs the command, then clears it.
    expect((await cni(lab, { command: 'DEL', ...call })).exitCode).toBe(0);
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout).incomplete).toHaveLength(1);
    expect((await lab.inNs(lab.host, ['ip', 'addr', 'add', '192.168.1.50/24', 'dev', other])).exitCode).toBe(0);
    expect((await lab.inNs(lab.host, cmd.split(' '))).exitCode).toBe(0);
    const cleared = await lab.hostnic(['recover', '--abandon', noteId]);
    expect(cleared.exitCode).toBe(0);
    expect(cleared.stdout).toContain(`cleared: the incomplete restore of ${nic}`);
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout).incomplete).toEqual([]);
    expect((await lab.hostnic(['recover', '--abandon', noteId])).exitCode).toBe(2);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });

  it('errors: the spec JSON on stdout with its code, non-zero exit, logs on stderr, nothing changed', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const ns = `/run/netns/${await lab.addNetns()}`;
    const before = await lab.snapshot(lab.host);
    const ctrBefore = await lab.snapshot(ns);
    const base = { command: 'ADD' as const, containerId: cid(), netns: ns, ifname: 'net1' };
    const cases: [string, Parameters<typeof cni>[1], number][] = [
      ['bad JSON', { ...base, config: '{"cniVersion": ' }, 6],
      ['unsupported version', { ...base, config: conf('0.3.1', nic) }, 1],
      ['no CNI_IFNAME', { ...base, ifname: '', config: conf('1.0.0', nic) }, 4],
      ['unknown command', { ...base, env: { CNI_COMMAND: 'FROB' }, config: conf('1.0.0', nic) }, 4],
      ['no NIC key', { ...base, config: { cniVersion: '1.0.0', name: net, type: 'hostnic' } }, 7],
      ['an address hostnic refuses', { ...base, config: staticConf('1.0.0', net, nic, { addresses: ['192.168.1.0/24'] }) }, 7],
      ['a NIC that is not there', { ...base, config: conf('1.0.0', 'nope0') }, 100],
      ['an IPAM plugin not in CNI_PATH', { ...base, config: { ...conf('1.0.0', nic), ipam: { type: 'no-such-ipam' } } }, 104],
      ['CNI_NETNS that is not a namespace', { ...base, netns: '/etc/hostname', config: conf('1.0.0', nic) }, 3],
      ['an ifname taken in the container', { ...base, ifname: 'lo', config: conf('1.0.0', nic) }, 7],
    ];
    for (const [what, call, code] of cases) {
      const r = await cni(lab, call);
      expect({ what, exit: r.exitCode !== 0, code: errorOf(r).code }).toEqual({ what, exit: true, code });
      expect(errorOf(r).msg).toBeTruthy();
      expect(r.stderr).toMatch(/^hostnic: /);
    }
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expect(comparable(await lab.snapshot(ns))).toEqual(comparable(ctrBefore));
    expect(existsSync(`${lab.stateDir}/attachments`) ? readdirSync(`${lab.stateDir}/attachments`) : []).toEqual([]);
  });

  it('a busy lock is "try again later" (11); a failed step after IPAM ADD rolls back and releases the IPAM allocation (IPAM DEL)', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const ns = `/run/netns/${await lab.addNetns()}`;
    const before = await lab.snapshot(lab.host);
    // Another hostnic holds the NIC's lock (flock on its lock file, as Locks takes it).
    const lockDir = `${lab.stateDir}/locks`;
    await lab.inNs(lab.host, ['mkdir', '-p', '-m', '0700', lockDir]);
    const holder = spawn('flock', ['--exclusive', `${lockDir}/${nic}`, 'sleep', '30'], { stdio: 'ignore', detached: true });
    try {
      await delay(300);
      const r = await cni(lab, { command: 'ADD', containerId: cid(), netns: ns, ifname: 'net1', config: conf('1.0.0', nic) });
      expect(errorOf(r)).toMatchObject({ code: 11, msg: expect.stringContaining('lock') });
    } finally {
      process.kill(-holder.pid!, 'SIGKILL'); // flock and its sleep, which holds the lock
    }
    // host-local IPAM: its allocation file must be gone after the failed ADD.
    const hostLocal = { cniVersion: '1.0.0', name: net, type: 'hostnic', device: nic, ipam: { type: 'host-local', ranges: [[{ subnet: '192.168.1.0/24', rangeStart: '192.168.1.100', rangeEnd: '192.168.1.110', gateway: '192.168.1.1' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: `${lab.stateDir}/ipam` } };
    const r = await cni(lab, { command: 'ADD', containerId: cid(), netns: ns, ifname: 'net1', config: hostLocal, env: { HOSTNIC_TEST_HOOKS: '1', HOSTNIC_TEST_FAIL: '3' } });
    expect(errorOf(r)).toMatchObject({ code: 101, msg: expect.stringContaining('rolled back') });
    // host-local keeps one file per allocated address in its dataDir (inside the lab's state directory).
    const allocated = readdirSync(`${lab.stateDir}/ipam/${net}`).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
    expect(allocated).toEqual([]);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });
});
