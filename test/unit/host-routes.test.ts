/** Which host routes through a NIC detach must re-create, in what order, with which arguments (observe/routes.ts). */
import { describe, expect, it } from 'vitest';
import { routeArgs, type AddrInfo, type NsState, type Route } from '../../src/kernel/ip.js';
import { kernelMade, restoreOrder, routesToKeep } from '../../src/observe/routes.js';

const addr = (local: string, prefixlen: number, more: Partial<AddrInfo> = {}): AddrInfo =>
  ({ family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen, scope: 'global', ...more });

const ns = (routes4: Route[], routes6: Route[] = []): NsState => ({ links: [], routes4, routes6 });

describe('routesToKeep', () => {
  it("keeps NetworkManager's subnet route for a noprefixroute address (proto kernel, metric 101) and puts it before the gateway route", () => {
    const addrs = [addr('10.7.0.5', 24, { noprefixroute: true }), addr('fd00:7::5', 64, { noprefixroute: true })];
    const host = ns(
      [
        { dst: 'default', gateway: '10.7.0.1', dev: 'eth1', protocol: 'dhcp', metric: 101 },
        { dst: '10.7.0.0/24', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '10.7.0.5', metric: 101 },
      ],
      [
        { dst: 'default', gateway: 'fd00:7::1', dev: 'eth1', protocol: 'ra', metric: 101, pref: 'medium' },
        { dst: 'fd00:7::/64', dev: 'eth1', protocol: 'kernel', metric: 101, pref: 'medium' },
        { dst: 'fe80::/64', dev: 'eth1', protocol: 'kernel', metric: 256, pref: 'medium' },
      ],
    );
    expect(routesToKeep('eth1', addrs, host)).toEqual([
      { family: 4, args: ['10.7.0.0/24', 'dev', 'eth1', 'proto', 'kernel', 'scope', 'link', 'src', '10.7.0.5', 'metric', '101'] },
      { family: 4, args: ['0.0.0.0/0', 'via', '10.7.0.1', 'dev', 'eth1', 'proto', 'dhcp', 'metric', '101'] },
      { family: 6, args: ['fd00:7::/64', 'dev', 'eth1', 'proto', 'kernel', 'metric', '101', 'pref', 'medium'] },
      { family: 6, args: ['::/0', 'via', 'fd00:7::1', 'dev', 'eth1', 'proto', 'ra', 'metric', '101', 'pref', 'medium'] },
    ]);
  });

  it("leaves out what the kernel re-creates from the addresses, other links' routes and expiring RA routes", () => {
    const addrs = [addr('10.7.0.5', 24), addr('10.0.0.1', 32, { address: '10.0.0.2' }), addr('fd00:7::5', 64)];
    const host = ns(
      [
        { dst: '10.7.0.0/24', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '10.7.0.5' },
        { dst: '10.0.0.2', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '10.0.0.1' },
        { dst: '10.7.0.0/24', dev: 'eth1', protocol: 'kernel', scope: 'link', prefsrc: '10.7.0.5', metric: 50 },
        { dst: '10.8.0.0/24', dev: 'eth2', protocol: 'kernel', scope: 'link' },
      ],
      [
        { dst: 'fd00:7::/64', dev: 'eth1', protocol: 'kernel', metric: 256, pref: 'medium' },
        { dst: 'fe80::/64', dev: 'eth1', protocol: 'kernel', metric: 256, pref: 'medium' },
        { dst: 'default', gateway: 'fe80::1', dev: 'eth1', protocol: 'ra', metric: 1024, pref: 'medium', expires: 1790 },
      ],
    );
    expect(routesToKeep('eth1', addrs, host).map((r) => r.args.join(' '))).toEqual([
      '10.7.0.0/24 dev eth1 proto kernel scope link src 10.7.0.5 metric 50',
    ]);
  });

  it('keeps other tables, onlink, route metrics and multipath routes with a hop through the NIC', () => {
    const host = ns([
      { dst: '100.64.0.0/16', nexthops: [{ gateway: '10.7.0.1', dev: 'eth1', weight: 2, flags: [] }, { gateway: '10.8.0.1', dev: 'eth2', weight: 1 }] },
      { dst: '203.0.113.0/24', gateway: '10.7.0.1', dev: 'eth1', table: '100', metric: 5 },
      { dst: '198.51.100.0/24', gateway: '10.9.9.9', dev: 'eth1', protocol: 'static', flags: ['onlink'] },
      { dst: '10.99.0.0/16', gateway: '10.7.0.1', dev: 'eth1', metrics: [{ mtu: 1400, rtt: 0.1 }] },
      { dst: '192.0.2.0/24', dev: 'eth1', protocol: 'static', scope: 'link', metric: 7 },
    ]);
    expect(routesToKeep('eth1', [], host).map((r) => r.args.join(' '))).toEqual([
      '192.0.2.0/24 dev eth1 proto static scope link metric 7',
      '100.64.0.0/16 nexthop via 10.7.0.1 dev eth1 weight 2 nexthop via 10.8.0.1 dev eth2',
      '203.0.113.0/24 via 10.7.0.1 dev eth1 metric 5 table 100',
      '198.51.100.0/24 via 10.9.9.9 dev eth1 proto static onlink',
      '10.99.0.0/16 via 10.7.0.1 dev eth1 mtu 1400',
    ]);
  });
});

describe('kernelMade', () => {
  it('is only the prefix route the kernel itself adds: main table, its metric, no gateway', () => {
    const addrs = [addr('10.7.0.5', 24)];
    expect(kernelMade({ dst: '10.7.0.0/24', dev: 'eth1', protocol: 'kernel' }, addrs, 4)).toBe(true);
    expect(kernelMade({ dst: '10.7.0.0/24', dev: 'eth1', protocol: 'kernel', table: '100' }, addrs, 4)).toBe(false);
    expect(kernelMade({ dst: '10.7.0.0/24', dev: 'eth1', protocol: 'static' }, addrs, 4)).toBe(false);
    expect(kernelMade({ dst: '10.7.0.0/24', dev: 'eth1', protocol: 'kernel' }, [addr('10.7.0.5', 24, { noprefixroute: true })], 4)).toBe(false);
    expect(kernelMade({ dst: 'fd00:7::/64', dev: 'eth1', protocol: 'kernel', metric: 256 }, [addr('fd00:7::5', 64)], 6)).toBe(true);
  });
});

describe('restoreOrder and routeArgs', () => {
  it('puts routes without a gateway first, keeping the order otherwise', () => {
    const r = (dst: string, gateway?: string): Route => ({ dst, dev: 'eth1', ...(gateway ? { gateway } : {}) });
    expect(restoreOrder([r('a', 'g'), r('b'), r('c', 'g'), r('d')]).map((x) => x.dst)).toEqual(['b', 'd', 'a', 'c']);
  });

  it('names the family of a default route and writes a multipath route without a dev of its own', () => {
    expect(routeArgs({ dst: 'default', pref: 'medium', metric: 1024, nexthops: [{ gateway: 'fd00::1', dev: 'a' }, { gateway: 'fd00::2', dev: 'b' }] }, 'a'))
      .toEqual(['::/0', 'metric', '1024', 'pref', 'medium', 'nexthop', 'via', 'fd00::1', 'dev', 'a', 'nexthop', 'via', 'fd00::2', 'dev', 'b']);
  });

  it('keeps a locked route metric where ip -json prints it as {lock, value}', () => {
    expect(routeArgs({ dst: '10.8.0.0/16', gateway: '10.9.0.2', metrics: [{ mtu: { lock: true, value: 1400 }, advmss: 1300 }] }, 'eth1'))
      .toEqual(['10.8.0.0/16', 'via', '10.9.0.2', 'dev', 'eth1', 'mtu', 'lock', '1400', 'advmss', '1300']);
  });
});
