/** The DHCP lease as udhcpc hands it over (environment, option 121), the commands a lease makes, and `dhcp` on the command line. */
import { describe, expect, it } from 'vitest';
import { appliedPart, leaseFromEnv, LeaseError, leaseRoutes, parseStaticRoutes } from '../../src/dhcp/lease.js';
import { parseAttachRequest } from '../../src/request/parse.js';
import { checkLease } from '../../src/steps/validate-dhcp.js';
import { problemOf } from '../../src/steps/validate.js';
import { dhcpLease } from '../../src/steps/dhcp.js';
import { invert, makeStep, relocated } from '../../src/steps/index.js';
import { dhcpLine, noteRenewal, readNote } from '../../src/dhcp/status.js';
import { noteFileOf } from '../../src/dhcp/client.js';
import { dhcpScript } from '../../src/dhcp/script.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// What udhcpc 1.35 exported to its script for dnsmasq's leases in test/e2e/dhcp.test.ts.
const PLAIN = { ip: '192.168.1.132', mask: '24', subnet: '255.255.255.0', router: '192.168.1.1', lease: '120', serverid: '192.168.1.1', mtu: '1400', interface: 'eth1' };
const SLASH32 = { ip: '192.168.1.120', mask: '32', router: '192.168.1.1', lease: '120', serverid: '192.168.1.1',
  staticroutes: '0.0.0.0/0 192.168.1.1 198.51.100.0/24 192.168.1.1 192.168.1.0/24 0.0.0.0' };

describe('leaseFromEnv', () => {
  it('a plain lease: address, prefix, router, MTU, server, lease time', () => {
    expect(leaseFromEnv(PLAIN, 1000.7)).toEqual({ ip: '192.168.1.132', prefix: 24, router: '192.168.1.1', routes: [], mtu: 1400, server: '192.168.1.1', seconds: 120, at: 1000 });
  });

  it('a classless default route with gateway 0.0.0.0 is a default route on the link itself (not dropped), with no on-link hop for it', () => {
    const l = leaseFromEnv({ ...PLAIN, staticroutes: '0.0.0.0/0 0.0.0.0 10.0.0.0/8 192.168.1.254' }, 0);
    expect(l.router).toBe('0.0.0.0');
    expect(l.routes).toEqual([{ dst: '10.0.0.0/8', via: '192.168.1.254' }]);
    expect(leaseRoutes(l, 'eth1')).toEqual({
      onlink: [],
      default: ['0.0.0.0/0', 'dev', 'eth1', 'scope', 'link'],
      routes: [['10.0.0.0/8', 'via', '192.168.1.254', 'dev', 'eth1']],
    });
    expect(dhcpLine({ address: `${l.ip}/${l.prefix}`, router: l.router, expires: '-', running: true, pids: [1] }, true)).toContain('default route on the link');
  });

  it('classless routes win over the router option (RFC 3442); their 0.0.0.0/0 is the default route', () => {
    const l = leaseFromEnv({ ...SLASH32, router: '10.9.9.9' }, 0);
    expect(l.router).toBe('192.168.1.1');
    expect(l.routes).toEqual([{ dst: '198.51.100.0/24', via: '192.168.1.1' }, { dst: '192.168.1.0/24' }]);
    expect(l.prefix).toBe(32);
  });

  it('option 121 without a default: no router, even with the router option', () => {
    expect(leaseFromEnv({ ...PLAIN, staticroutes: '10.0.0.0/8 192.168.1.254' }, 0).router).toBeUndefined();
  });

  it('host bits of a classless destination are cleared; a bad one is refused', () => {
    expect(parseStaticRoutes('10.1.2.3/8 1.2.3.4')).toEqual([{ dst: '10.0.0.0/8', via: '1.2.3.4' }]);
    expect(() => parseStaticRoutes('10.0.0.0/8')).toThrow(LeaseError);
    expect(() => parseStaticRoutes('10.0.0.0/33 1.2.3.4')).toThrow(/prefix length/);
    expect(() => parseStaticRoutes('10.0.0.0/8 nothere')).toThrow(/gateway/);
  });

  it('refuses what is not a lease', () => {
    expect(() => leaseFromEnv({ ...PLAIN, ip: 'fe80::1' }, 0)).toThrow(/not an IPv4 address/);
    expect(() => leaseFromEnv({ ...PLAIN, mask: '0' }, 0)).toThrow(/prefix length/);
    expect(() => leaseFromEnv({ ...PLAIN, mtu: '20' }, 0)).toThrow(/MTU/);
    expect(() => leaseFromEnv({ ...PLAIN, lease: '-1' }, 0)).toThrow(/lease time/);
  });
});

describe('leaseRoutes and the dhcp.lease step', () => {
  it('a /32 lease reaches its router through an on-link host route, added before the routes via it', () => {
    const l = leaseFromEnv(SLASH32, 0);
    expect(leaseRoutes(l, 'eth1')).toEqual({
      onlink: [['192.168.1.1/32', 'dev', 'eth1', 'scope', 'link']],
      default: ['0.0.0.0/0', 'via', '192.168.1.1', 'dev', 'eth1'],
      routes: [['198.51.100.0/24', 'via', '192.168.1.1', 'dev', 'eth1'], ['192.168.1.0/24', 'dev', 'eth1', 'scope', 'link']],
    });
  });

  it('a router inside the subnet needs no on-link route', () => {
    expect(leaseRoutes(leaseFromEnv(PLAIN, 0), 'eth1').onlink).toEqual([]);
  });

  it('no route twice: GCE sends its router as a classless on-link /32 as well (monogon#89), and a route to the own subnet is the kernel\'s', () => {
    const gce = leaseFromEnv({ ip: '10.156.0.7', mask: '32', lease: '3600', serverid: '169.254.169.254', staticroutes: '10.156.0.1/32 0.0.0.0 0.0.0.0/0 10.156.0.1' }, 0);
    expect(leaseRoutes(gce, 'eth1')).toEqual({
      onlink: [['10.156.0.1/32', 'dev', 'eth1', 'scope', 'link']],
      default: ['0.0.0.0/0', 'via', '10.156.0.1', 'dev', 'eth1'],
      routes: [],
    });
    const own = leaseFromEnv({ ...PLAIN, staticroutes: '192.168.1.0/24 0.0.0.0 0.0.0.0/0 192.168.1.1' }, 0);
    expect(leaseRoutes(own, 'eth1').routes).toEqual([]);
  });

  it('apply replaces the previous default route; undo releases first, then puts everything back in reverse', () => {
    const l = leaseFromEnv(PLAIN, 0);
    const p = { ns: '/proc/1/ns/net', dev: 'eth1', lease: '/run/hostnic/dhcp/ab.json', mtu: 1500, previous: [{ dst: 'default', gateway: '172.31.0.1', dev: 'eth0' }] };
    const argv = (cmds: { argv: readonly string[] }[]) => cmds.map((c) => c.argv.slice(1).join(' '));
    expect(argv(dhcpLease.apply(p, l))).toEqual([
      'addr add 192.168.1.132/24 dev eth1', 'link set dev eth1 mtu 1400',
      'route del 0.0.0.0/0 via 172.31.0.1 dev eth0', 'route add 0.0.0.0/0 via 192.168.1.1 dev eth1',
    ]);
    expect(argv(dhcpLease.undo(p, l))).toEqual([
      'stop /run/hostnic/dhcp/ab.json',
      'route del 0.0.0.0/0 via 192.168.1.1 dev eth1', 'route add 0.0.0.0/0 via 172.31.0.1 dev eth0',
      'link set dev eth1 mtu 1500', 'addr del 192.168.1.132/24 dev eth1',
    ]);
    // --mtu given: the lease's MTU is not applied.
    expect(argv(dhcpLease.apply({ ...p, keepMtu: true }, l))).not.toContain('link set dev eth1 mtu 1400');
  });

  it('an on-link default route: put in place of the old default and taken off again; a renewal to a real router swaps them; a router option 0.0.0.0 is no router', () => {
    const onLink = leaseFromEnv({ ...PLAIN, mtu: undefined, staticroutes: '0.0.0.0/0 0.0.0.0' }, 0);
    const p = { ns: '/proc/1/ns/net', dev: 'eth1', lease: '/run/hostnic/dhcp/ab.json', mtu: 1500, previous: [{ dst: 'default', gateway: '172.31.0.1', dev: 'eth0' }] };
    const argv = (cmds: { argv: readonly string[] }[]) => cmds.map((c) => c.argv.slice(1).join(' '));
    expect(argv(dhcpLease.apply(p, onLink))).toEqual([
      'addr add 192.168.1.132/24 dev eth1', 'route del 0.0.0.0/0 via 172.31.0.1 dev eth0', 'route add 0.0.0.0/0 dev eth1 scope link',
    ]);
    expect(argv(dhcpLease.undo(p, onLink))).toEqual([
      'stop /run/hostnic/dhcp/ab.json', 'route del 0.0.0.0/0 dev eth1 scope link', 'route add 0.0.0.0/0 via 172.31.0.1 dev eth0', 'addr del 192.168.1.132/24 dev eth1',
    ]);
    const viaRouter = leaseFromEnv({ ...PLAIN, mtu: undefined }, 60);
    expect(appliedPart(viaRouter)).not.toBe(appliedPart(onLink));
    expect(argv(dhcpLease.apply({ ...p, replaces: onLink }, viaRouter))).toEqual([
      'route del 0.0.0.0/0 dev eth1 scope link', 'route add 0.0.0.0/0 via 172.31.0.1 dev eth0', 'addr del 192.168.1.132/24 dev eth1',
      'addr add 192.168.1.132/24 dev eth1', 'route del 0.0.0.0/0 via 172.31.0.1 dev eth0', 'route add 0.0.0.0/0 via 192.168.1.1 dev eth1',
    ]);
    expect(leaseFromEnv({ ...PLAIN, router: '0.0.0.0' }, 0).router).toBeUndefined();
  });

  it('the lease as kept is checked like every state file', () => {
    expect(problemOf(() => checkLease(leaseFromEnv(SLASH32, 0), 'lease'))).toBeUndefined();
    expect(problemOf(() => checkLease({ ...leaseFromEnv(PLAIN, 0), ip: '::1' }, 'lease'))).toMatch(/lease\.ip/);
    expect(problemOf(() => checkLease({ ...leaseFromEnv(PLAIN, 0), routes: [{ dst: 'x' }] }, 'lease'))).toMatch(/routes\[0\]\.dst/);
  });

  it('a renewal that changes nothing applied is told from one that does', () => {
    const a = leaseFromEnv(PLAIN, 0);
    expect(appliedPart(leaseFromEnv(PLAIN, 60))).toBe(appliedPart(a));
    expect(appliedPart(leaseFromEnv({ ...PLAIN, ip: '192.168.1.133' }, 60))).not.toBe(appliedPart(a));
  });
});

describe('dhcp on the command line', () => {
  const req = (addresses: string[], more: { dhcpTimeout?: string } = {}) => parseAttachRequest({ container: 'pid:1', nic: 'eth1', addresses, ...more });
  it('beside static addresses, with its timeout', () => {
    expect(req(['dhcp', 'fd00::4/64@fd00::1']).dhcp).toEqual({ timeout: 10 });
    expect(req(['dhcp', '10.0.0.4/24'], { dhcpTimeout: '3' })).toMatchObject({ dhcp: { timeout: 3 }, addresses: [{ cidr: '10.0.0.4/24' }] });
    expect(req(['10.0.0.4/24']).dhcp).toBeUndefined();
  });
  it('refuses dhcp twice, dhcp@GW, a second IPv4 default route, a bad timeout', () => {
    expect(() => req(['dhcp', 'dhcp'])).toThrow(/"dhcp" is given 2 times/);
    expect(() => req(['dhcp@10.0.0.1'])).toThrow(/write dhcp alone/);
    expect(() => req(['dhcp/24'])).toThrow(/write dhcp alone/);
    expect(() => req(['dhcp', '10.0.0.4/24@10.0.0.1'])).toThrow(/two IPv4 default routes/);
    expect(() => req(['dhcp'], { dhcpTimeout: '0' })).toThrow(/--dhcp-timeout/);
    expect(() => req(['10.0.0.4/24'], { dhcpTimeout: '5' })).toThrow(/without "dhcp"/);
  });
});

describe('the note of a lease that was not applied (status shows it)', () => {
  it('the event script notes a lease it cannot take, only while the lease file is there, and clears the note when a lease applies or needs nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'hostnic-dhcp-note-'));
    const lease = join(root, 'dhcp', 'ab.json');
    const keys = ['HOSTNIC_DHCP_LEASE', 'ip', 'mask', 'router', 'lease', 'serverid', 'mtu', 'interface'];
    const before = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
    const set = (env: Record<string, string>): void => { for (const k of keys) delete process.env[k]; Object.assign(process.env, { HOSTNIC_DHCP_LEASE: lease }, env); };
    const note = noteFileOf(lease);
    try {
      mkdirSync(join(root, 'dhcp'), { mode: 0o700 });
      set({ ...PLAIN, mtu: '60' });
      expect(await dhcpScript(['renew'])).toBe(1); // no lease file yet (an attach in progress): nothing noted
      expect(existsSync(note)).toBe(false);
      set(PLAIN);
      expect(await dhcpScript(['bound'])).toBe(0); // no record: nothing to apply
      expect(existsSync(lease)).toBe(true);
      set({ ...PLAIN, mtu: '60' });
      expect(await dhcpScript(['renew'])).toBe(1);
      expect(readNote(lease)!.message).toMatch(/^the server's lease was not taken: MTU "60" is not 68\.\.65535$/);
      const line = dhcpLine({ address: '192.168.1.132/24', expires: '-', running: true, pids: [7], notApplied: readNote(lease)! }, true);
      expect(line).toMatch(/; a new lease was not applied \(last tried \S+\): the server's lease was not taken: MTU "60"/);
      set(PLAIN);
      expect(await dhcpScript(['renew'])).toBe(0);
      expect(existsSync(note)).toBe(false);
      // What a container could put in a note (its interface names, a command's stderr) is one printable line.
      noteRenewal(lease, 'renamed to e\u001b[31mvil\nsecond line');
      expect(readNote(lease)!.message).toBe('renamed to e [31mvil');
      expect(await dhcpScript(['stop', lease])).toBe(0);
      expect(readdirSync(join(root, 'dhcp'))).toEqual([]);
    } finally {
      for (const k of keys) if (before[k] === undefined) delete process.env[k]; else process.env[k] = before[k];
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('dhcp.client in a rollback', () => {
  const params = (ns: string) => ({ ns, dev: 'eth1', lease: '/run/hostnic/dhcp/ab.json', pidns: ns.replace(/net$/, 'pid'), timeout: 30 });
  const stop = (ns: string) => invert(makeStep('dhcp.client', 'ctr.dhcp.client', 'Start the DHCP client on eth1', params(ns), { undoTitle: 'Stop it' }));

  it("is not started again in a container that is gone (its pid's namespaces are no more): nothing to do, so the rollback finishes", async () => {
    expect(await relocated(stop('/proc/999999999/ns/net'))).toBeNull();
  });

  it('is started again in a namespace that lives', async () => {
    const live = stop(`/proc/${process.pid}/ns/net`);
    expect(await relocated(live)).toEqual(live);
  });
});
