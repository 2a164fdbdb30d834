/** plan/repair.ts: drift of an attached NIC against its entry, and the steps that put hostnic's settings back (pure). */
import { describe, expect, it } from 'vitest';
import type { LinkAddrs, NsState } from '../../src/kernel/ip.js';
import type { AttachInput } from '../../src/plan/attach.js';
import { planRepair } from '../../src/plan/repair.js';
import { parseAttachRequest } from '../../src/request/parse.js';

const request = parseAttachRequest({ container: 'netns:blue', nic: 'nic1', addresses: ['192.168.1.4/24@192.168.1.1'], mtu: 1400, routes: ['10.0.0.0/8@192.168.1.254'] });
const input: AttachInput = {
  id: 'abcd0123', request, ctrName: 'eth1', tmpNs: 'hostnic-abcd0123', tag: 'hostnic:...', path: 'direct',
  host: { name: 'nic1', ifindex: 5, mac: '02:00:00:00:00:01', mtu: 1500, up: true, addrs: [], routes: [], sysctls: [] },
  target: { display: 'netns:blue', kind: 'netns', nsPath: '/run/netns/blue', nsId: '4:1234' },
};
const link = (over: Partial<LinkAddrs> = {}): LinkAddrs => ({
  ifindex: 7, ifname: 'eth1', flags: ['BROADCAST', 'UP', 'LOWER_UP'], mtu: 1400, address: '02:00:00:00:00:01', operstate: 'UP',
  addr_info: [{ family: 'inet', local: '192.168.1.4', prefixlen: 24, scope: 'global' }, { family: 'inet6', local: 'fe80::1', prefixlen: 64, scope: 'link' }],
  ...over,
});
const ns = (l: LinkAddrs, extra: NsState['routes4'] = []): NsState => ({
  links: [l],
  routes4: [
    { dst: 'default', gateway: '192.168.1.1', dev: 'eth1' },
    { dst: '192.168.1.0/24', dev: 'eth1', protocol: 'kernel', scope: 'link' },
    { dst: '10.0.0.0/8', gateway: '192.168.1.254', dev: 'eth1' },
    ...extra,
  ],
  routes6: [],
});

describe('planRepair', () => {
  it('in place: no drift, no step', () => {
    const l = link();
    expect(planRepair(input, l, ns(l))).toEqual({ drift: [], besides: [], steps: [] });
  });

  it('MTU, name and down are put back; the steps run on the link as it is named now', () => {
    const l = link({ ifname: 'x0', mtu: 1300, flags: ['BROADCAST'] });
    const r = planRepair(input, l, { ...ns(l), routes4: ns(l).routes4.map((x) => ({ ...x, dev: 'x0' })) });
    expect(r.drift).toEqual(['renamed to x0', 'MTU 1300 (the entry\'s: 1400)', 'down']);
    expect(r.steps.map((s) => s.id)).toEqual(['repair.link', 'repair.up']);
    expect(r.steps[0]!.params).toMatchObject({ from: { name: 'x0', mtu: 1300 }, to: { name: 'eth1', mtu: 1400 } });
  });

  it('a lost address, default route and route are put back; what was added besides is reported, not planned', () => {
    const l = link({ addr_info: [{ family: 'inet', local: '10.77.0.1', prefixlen: 24, scope: 'global' }] });
    const state = { ...ns(l), routes4: [{ dst: 'default', gateway: '10.77.0.254', dev: 'eth1' }, { dst: '172.16.0.0/12', gateway: '10.77.0.254', dev: 'eth1' }] };
    const r = planRepair(input, l, state);
    expect(r.steps.map((s) => s.id)).toEqual(['repair.addrs', 'repair.default4', 'repair.routes4']);
    expect(r.besides).toEqual(['address 10.77.0.1/24 added on eth1', 'route 172.16.0.0/12 via 10.77.0.254 added through eth1']);
  });
});

describe('planRepair: what the kernel shows in its own words, and what a DHCP lease set', () => {
  it('a /32 route is in place although ip -json prints it without its prefix length', () => {
    const req = parseAttachRequest({ container: 'netns:blue', nic: 'nic1', addresses: ['192.168.1.4/24@192.168.1.1'], mtu: 1400, routes: ['169.254.169.254/32@192.168.1.254'] });
    const l = link();
    const state = { ...ns(l), routes4: [...ns(l).routes4.filter((r) => r.dst !== '10.0.0.0/8'), { dst: '169.254.169.254', gateway: '192.168.1.254', dev: 'eth1' }] };
    expect(planRepair({ ...input, request: req }, l, state)).toEqual({ drift: [], besides: [], steps: [] });
  });

  it("a lease's MTU, address and routes are hostnic's own: no drift, nothing besides; without the lease they would be", () => {
    const req = parseAttachRequest({ container: 'netns:blue', nic: 'nic1', addresses: ['dhcp'] });
    const lease = { ip: '192.168.1.132', prefix: 24, router: '192.168.1.1', routes: [{ dst: '10.0.0.0/8', via: '192.168.1.254' }], mtu: 1460, seconds: 120, at: 0 };
    const l = link({ mtu: 1460, addr_info: [{ family: 'inet', local: '192.168.1.132', prefixlen: 24, scope: 'global' }] });
    const dhcpInput = { ...input, request: req };
    expect(planRepair(dhcpInput, l, ns(l), lease)).toEqual({ drift: [], besides: [], steps: [] });
    const without = planRepair(dhcpInput, l, ns(l));
    expect(without.drift).toEqual(["MTU 1460 (the entry's: 1500)"]);
    expect(without.besides).toEqual(['address 192.168.1.132/24 added on eth1', 'route 10.0.0.0/8 via 192.168.1.254 added through eth1']);
  });
});

describe('planRepair: a --route default@VIA is the default route hostnic set', () => {
  const req = parseAttachRequest({ container: 'netns:blue', nic: 'nic1', addresses: ['192.168.1.4/24'], mtu: 1400, routes: ['default@192.168.1.1'] });
  it('in place when it is there; put back (replaced) when another took its place', () => {
    const l = link();
    const there = { ...ns(l), routes4: [{ dst: 'default', gateway: '192.168.1.1', dev: 'eth1' }] };
    expect(planRepair({ ...input, request: req }, l, there)).toEqual({ drift: [], besides: [], steps: [] });
    const taken = planRepair({ ...input, request: req }, l, { ...ns(l), routes4: [{ dst: 'default', gateway: '10.0.0.1', dev: 'eth0' }] });
    expect(taken.steps.map((s) => s.id)).toEqual(['repair.default4']);
  });
});

describe('planRepair: a default route on the link (--route 0.0.0.0/0)', () => {
  const req = parseAttachRequest({ container: 'netns:blue', nic: 'nic1', addresses: ['192.168.1.4/24'], mtu: 1400, routes: ['0.0.0.0/0'] });
  it('in place when it is there; put back when it is gone', () => {
    const l = link();
    const there = { ...ns(l), routes4: [{ dst: 'default', dev: 'eth1', scope: 'link' }] };
    expect(planRepair({ ...input, request: req }, l, there)).toEqual({ drift: [], besides: [], steps: [] });
    const gone = planRepair({ ...input, request: req }, l, { ...ns(l), routes4: [] });
    expect(gone.drift).toEqual(["IPv4 default route none (the entry's: dev eth1)"]);
  });
});
