/**
 * Exact restore of what network managers and operators set on a host NIC
 * (issue 12, section 1), against the real kernel: the whole host snapshot
 * before attach must equal the one after detach.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLab, delay, requireRoot, type Lab, type Snapshot } from '../helpers/lab.js';
import { comparable, hostnicTempNamespaces, routesVia } from '../helpers/hostnic.js';

const root = requireRoot();

describe.skipIf(!root)('detach restores what network managers set (real kernel)', () => {
  let lab: Lab;
  beforeEach(async () => { lab = await createLab(); });
  afterEach(async () => { await lab.destroy(); });

  /** Run commands in the lab host, failing the test on the first error. */
  async function host(...cmds: string[][]): Promise<void> {
    for (const argv of cmds) {
      const r = await lab.inNs(lab.host, argv);
      if (r.exitCode !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    }
  }

  /** Attach the NIC to the container, then detach it: each clean (exit 0, nothing on stderr). */
  async function roundTrip(pid: number, nic: string, extra: string[] = []): Promise<void> {
    const a = await lab.hostnic(['attach', `pid:${pid}`, nic, ...extra]);
    expect(a.stderr).toBe('');
    expect(a.exitCode).toBe(0);
    const d = await lab.hostnic(['detach', `pid:${pid}`, nic]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
  }

  it("NetworkManager's way: noprefixroute addresses, the subnet route as proto kernel metric 101, the gateway route on top", async () => {
    const nic = await lab.addNic();
    await host(
      ['ip', 'addr', 'add', '192.168.1.20/24', 'dev', nic, 'noprefixroute'],
      ['ip', 'route', 'add', '192.168.1.0/24', 'dev', nic, 'proto', 'kernel', 'scope', 'link', 'src', '192.168.1.20', 'metric', '101'],
      ['ip', 'route', 'add', 'default', 'via', '192.168.1.1', 'dev', nic, 'proto', 'dhcp', 'metric', '101'],
      ['ip', 'addr', 'add', 'fd00:1::20/64', 'dev', nic, 'noprefixroute'],
      ['ip', 'route', 'add', 'fd00:1::/64', 'dev', nic, 'proto', 'kernel', 'metric', '101'],
      ['ip', 'route', 'add', 'default', 'via', 'fd00:1::1', 'dev', nic, 'proto', 'ra', 'metric', '101'],
    );
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    expect(routesVia(before.routes4, 'default')).toEqual([{ gateway: '192.168.1.1', dev: nic }]);

    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic, '--force']);
    expect(a.stderr).toBe('');
    expect(a.exitCode).toBe(0);
    const attached = await lab.snapshot(lab.host);
    expect(attached.links.map((l) => l.ifname)).not.toContain(nic);

    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expect(await hostnicTempNamespaces()).toEqual([]);
  });

  it('every route through the NIC, in every table: other tables, onlink, scopes, protocols, metrics, multipath', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24', 'fd00:1::20/64'] });
    const other = await lab.addNic({ addrs: ['192.168.1.21/24'] });
    await host(
      // A second subnet route for the same prefix with a metric the kernel would not use.
      ['ip', 'route', 'add', '192.168.1.0/24', 'dev', nic, 'proto', 'kernel', 'scope', 'link', 'src', '192.168.1.20', 'metric', '50'],
      ['ip', 'route', 'add', '203.0.113.0/24', 'via', '192.168.1.1', 'dev', nic, 'table', '100', 'metric', '5'],
      ['ip', 'route', 'add', '198.51.100.0/24', 'via', '10.9.9.9', 'dev', nic, 'onlink', 'proto', 'static'],
      ['ip', 'route', 'add', '192.0.2.0/24', 'dev', nic, 'scope', 'link', 'proto', 'static', 'metric', '7'],
      ['ip', 'route', 'add', '10.99.0.0/16', 'via', '192.0.2.1', 'dev', nic, 'mtu', '1400'],
      ['ip', 'route', 'add', '100.64.0.0/16', 'nexthop', 'via', '192.168.1.1', 'dev', nic, 'weight', '2',
        'nexthop', 'via', '192.168.1.1', 'dev', other],
      ['ip', 'route', 'add', '2001:db8:5::/48', 'via', 'fd00:1::1', 'dev', nic, 'table', '100', 'metric', '300'],
      ['ip', 'route', 'add', '2001:db8:6::/48', 'dev', nic, 'proto', 'static'],
      ['ip', 'route', 'add', 'fd00:1::/64', 'dev', nic, 'proto', 'kernel', 'metric', '99'],
    );
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);

    await roundTrip(ctr.pid, nic);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });

  it('addresses keep their flags and attributes (peer, label, nodad, noprefixroute) and the time left of a finite lifetime', async () => {
    const nic = await lab.addNic();
    await host(
      ['ip', 'addr', 'add', '192.168.1.20/24', 'dev', nic, 'label', `${nic}:a`],
      ['ip', 'addr', 'add', '10.0.0.1', 'peer', '10.0.0.2/32', 'dev', nic],
      ['ip', 'addr', 'add', 'fd00:1::20/64', 'dev', nic, 'nodad'],
      ['ip', 'addr', 'add', 'fd00:1::21/64', 'dev', nic, 'nodad', 'noprefixroute'],
      ['ip', 'addr', 'add', '192.168.1.30/24', 'dev', nic, 'valid_lft', '3600', 'preferred_lft', '1800'],
    );
    // Expires while attached: the kernel would have removed it, so detach must not bring it back.
    await host(['ip', 'addr', 'add', '192.168.1.31/24', 'dev', nic, 'valid_lft', '8', 'preferred_lft', '8']);
    const shortAddedAt = Date.now();
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    expect(before.links.find((l) => l.ifname === nic)!.addrs.map((x) => x.local)).toContain('192.168.1.31');
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic]);
    expect(a.stderr).toBe('');
    expect(a.exitCode).toBe(0);
    const attachedAt = Date.now();
    await delay(Math.max(3000, shortAddedAt + 9000 - Date.now()));
    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.stderr).toBe('');
    expect(d.exitCode).toBe(0);

    const gone = '192.168.1.31';
    const expected: Snapshot = {
      ...before,
      links: before.links.map((l) => (l.ifname === nic ? { ...l, addrs: l.addrs.filter((x) => x.local !== gone) } : l)),
      routes4: before.routes4.filter((r) => r.dst !== gone),
    };
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(expected));
    // The DHCP-like address has what was left of its lifetime, not a fresh 3600 s.
    const shown = JSON.parse((await lab.inNs(lab.host, ['ip', '-json', 'addr', 'show', 'dev', nic])).stdout) as
      { addr_info: { local: string; valid_life_time: number; preferred_life_time: number }[] }[];
    const lease = shown[0]!.addr_info.find((x) => x.local === '192.168.1.30')!;
    const away = Math.floor((Date.now() - attachedAt) / 1000);
    expect(lease.valid_life_time).toBeLessThanOrEqual(3600 - away);
    expect(lease.preferred_life_time).toBeLessThanOrEqual(1800 - away);
  });

  it('permanent neighbour entries on the NIC come back', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    await host(
      ['ip', 'addr', 'add', 'fd00:1::20/64', 'dev', nic, 'nodad'],
      ['ip', 'neigh', 'add', '192.168.1.77', 'lladdr', '02:00:00:00:00:77', 'dev', nic, 'nud', 'permanent'],
      ['ip', 'neigh', 'add', 'fd00:1::77', 'lladdr', '02:00:00:00:00:78', 'dev', nic, 'nud', 'permanent'],
    );
    const permanent = async (): Promise<unknown> =>
      JSON.parse((await lab.inNs(lab.host, ['ip', '-json', 'neigh', 'show', 'nud', 'permanent'])).stdout);
    const neighBefore = await permanent();
    expect(neighBefore).toHaveLength(2);
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    await roundTrip(ctr.pid, nic);
    expect(await permanent()).toEqual(neighBefore);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });

  it('a bridge port is refused (exit 2, naming the bridge); with --force detach puts it back into the bridge', async () => {
    const nic = await lab.addNic();
    await host(
      ['ip', 'link', 'add', 'brh0', 'address', '02:00:00:00:02:01', 'type', 'bridge', 'stp_state', '0'],
      ['ip', 'link', 'set', 'dev', 'brh0', 'up'],
      ['ip', 'link', 'set', 'dev', nic, 'master', 'brh0'],
    );
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    const refused = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic]);
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr.split('\n')[0]).toBe(`hostnic: ${nic} is a port of bridge brh0: moving it takes it out of brh0`);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));

    await roundTrip(ctr.pid, nic, ['--force']);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });

  it('every per-interface sysctl the move resets comes back, read generically (not from a fixed list), disable_ipv6 included', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const keys = [
      `net/ipv4/conf/${nic}/accept_local=1`, `net/ipv4/conf/${nic}/bootp_relay=1`, `net/ipv4/conf/${nic}/route_localnet=1`,
      `net/ipv4/conf/${nic}/arp_evict_nocarrier=0`, `net/ipv6/conf/${nic}/hop_limit=32`, `net/ipv6/conf/${nic}/disable_ipv6=1`,
    ];
    await host(['sysctl', '-q', '-w', ...keys]);
    const read = async (): Promise<string> => (await lab.inNs(lab.host, ['grep', '-r', '', `/proc/sys/net/ipv4/conf/${nic}`, `/proc/sys/net/ipv6/conf/${nic}`]))
      .stdout.split('\n').filter((l) => !/stable_secret/.test(l)).sort().join('\n');
    const sysctlsBefore = await read();
    for (const kv of keys) expect(sysctlsBefore).toContain(`/proc/sys/${kv.replace('=', ':')}`);
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    await roundTrip(ctr.pid, nic);
    expect(await read()).toEqual(sysctlsBefore);
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
  });
  it('a route that cannot come back does not keep the NIC in the container: it comes home, the command is printed, exit 3', async () => {
    const nic = await lab.addNic({ addrs: ['192.168.1.20/24'] });
    const other = await lab.addNic({ addrs: ['192.168.1.50/24'] });
    // A route through the NIC whose source address is another link's: it cannot come back while that address is gone.
    await host(['ip', 'route', 'add', '203.0.113.0/24', 'via', '192.168.1.1', 'dev', nic, 'src', '192.168.1.50', 'table', '100']);
    const ctr = await lab.addContainer();
    const before = await lab.snapshot(lab.host);
    const a = await lab.hostnic(['attach', `pid:${ctr.pid}`, nic]);
    expect(a.stderr).toBe('');
    expect(a.exitCode).toBe(0);
    await host(['ip', 'addr', 'del', '192.168.1.50/24', 'dev', other]);

    const d = await lab.hostnic(['detach', `pid:${ctr.pid}`, nic]);
    expect(d.exitCode).toBe(3);
    const cmd = `ip route add 203.0.113.0/24 via 192.168.1.1 dev ${nic} src 192.168.1.50 table 100`;
    expect(d.stderr).toContain(cmd);
    // The NIC is home with everything else; the record is gone (nothing is left in the container).
    const home = await lab.snapshot(lab.host);
    expect(home.links.map((l) => l.ifname)).toContain(nic);
    expect((await lab.snapshot(ctr.nsPath)).links.map((l) => l.ifname)).toEqual(['lo']);
    // status keeps showing what is left, with how to clear it, until a person has done it.
    const status = JSON.parse((await lab.hostnic(['status', '--json'])).stdout) as { attachments: unknown[]; incomplete: Record<string, any>[] };
    expect(status.attachments).toEqual([]);
    expect(status.incomplete).toEqual([expect.objectContaining({ nic, target: `pid:${ctr.pid}`, notDone: [expect.objectContaining({ commands: [cmd] })] })]);
    const noteId = status.incomplete[0]!.id as string;
    expect(d.stderr).toContain(`hostnic recover --abandon ${noteId}`);
    expect((await lab.hostnic(['status'])).stderr).toContain(`incomplete restore ${noteId}: ${nic} came back from pid:${ctr.pid}`);
    // What was printed finishes the job: with the source address back, the host is as it was.
    await host(['ip', 'addr', 'add', '192.168.1.50/24', 'dev', other], cmd.split(' '));
    expect(comparable(await lab.snapshot(lab.host))).toEqual(comparable(before));
    expect((await lab.hostnic(['recover', '--abandon', noteId])).exitCode).toBe(0);
    expect(JSON.parse((await lab.hostnic(['status', '--json'])).stdout).incomplete).toEqual([]);
  });
});
