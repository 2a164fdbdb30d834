import { describe, expect, it } from 'vitest';
import { choosePath, planAttach, type AttachInput } from '../../src/plan/attach.js';
import { planDetach } from '../../src/plan/detach.js';
import { planReturned } from '../../src/plan/returned.js';
import type { AttachmentRecord } from '../../src/records.js';
import { doCommands, invert, undoCommands } from '../../src/steps/index.js';
import { batchKey } from '../../src/exec.js';
import { render } from '../../src/exec.js';
import { decodeTag, encodeTag } from '../../src/tag.js';
import { parseAttachRequest } from '../../src/request/parse.js';
import { lastingOwnNetns } from '../../src/kernel/ip.js';

const request = parseAttachRequest({
  container: 'pid:4242', nic: 'nic1', addresses: ['192.168.1.4/24@192.168.1.1', 'fd00:1::4/64@fd00:1::1'],
  routes: ['198.51.100.0/24@192.168.1.1'],
});

const input: AttachInput = {
  id: 'abcd1234',
  request,
  host: {
    name: 'nic1', ifindex: 7, mac: '52:54:00:12:34:56', mtu: 1500, up: true, alias: 'uplink b',
    addrs: [['10.50.0.2/24']], routes: [{ family: 4, args: ['10.60.0.0/16', 'via', '10.50.0.1', 'dev', 'nic1'] }],
    sysctls: [{ key: 'net/ipv4/conf/nic1/arp_ignore', value: '2', defaultValue: '0' }],
  },
  target: { display: 'pid:4242', kind: 'pid', nsPath: '/proc/4242/ns/net', nsId: '4:1234', pid: 4242 },
  ctrName: 'eth1',
  tmpNs: 'hostnic-abcd1234',
  tag: 'hostnic:1/id=abcd1234/n=nic1/m=52:54:00:12:34:56/t=1500/u=1',
  path: 'private',
};

describe('planAttach', () => {
  const steps = planAttach(input);

  it('gives every step an id, unique in the plan and derived from the input', () => {
    expect(steps.map((s) => s.id)).toEqual([
      'tmpns.add', 'host.routes4', 'host.addrs', 'host.down', 'host.sysctl.ipv4.arp_ignore',
      'move.tmpns', 'rename', 'move', 'tmpns.remove',
      'ctr.announce', 'ctr.addrs', 'ctr.up', 'ctr.default4', 'ctr.default6', 'ctr.routes4',
    ]);
    expect(planAttach({ ...input, id: 'ffff0000', tmpNs: 'hostnic-ffff0000' }).map((s) => s.id)).toEqual(steps.map((s) => s.id));
  });

  it('orders the private namespace, host cleanup, the hop through it, then container setup', () => {
    expect(steps.map((s) => `${s.inverse ? '-' : '+'}${s.kind}`)).toEqual([
      '+netns.add', '-route.add', '-addr.add', '+link.set', '+sysctl.set',
      '+link.move', '+link.set', '+link.move', '-netns.add',
      '+sysctl.announce', '+addr.add', '+link.set', '+route.default', '+route.default', '+route.add',
    ]);
  });

  it('sets both announcement sysctls in one process, tolerating a container without IPv6', () => {
    const [cmd] = doCommands(steps.find((s) => s.kind === 'sysctl.announce')!);
    expect(cmd!.argv).toEqual(['sysctl', '-q', '-w', 'net/ipv4/conf/eth1/arp_notify=1', 'net/ipv6/conf/eth1/ndisc_notify=1']);
    expect(cmd!.tolerate!.test('sysctl: cannot stat /proc/sys/net/ipv6/conf/eth1/ndisc_notify: No such file or directory\n')).toBe(true);
    expect(cmd!.tolerate!.test('sysctl: cannot stat /proc/sys/net/ipv4/conf/eth1/arp_notify: No such file or directory\n')).toBe(false);
  });

  it('renames in the private namespace, never in the host', () => {
    const rename = steps.find((s) => s.id === 'rename')!;
    const cmds = doCommands(rename);
    expect(cmds.every((c) => c.netns === '/run/netns/hostnic-abcd1234')).toBe(true);
    // The rename alone first (a refused rename then changes nothing), then the rest.
    expect(cmds.map((c) => c.argv)).toEqual([
      ['ip', 'link', 'set', 'dev', 'nic1', 'name', 'eth1'],
      ['ip', 'link', 'set', 'dev', 'eth1', 'address', '52:54:00:12:34:56', 'mtu', '1500', 'alias', input.tag],
    ]);
    expect(cmds.map((c) => !!c.partial)).toEqual([false, true]);
    // Undo restores name, MAC, MTU and the original alias.
    expect(undoCommands(rename).map((c) => c.argv)).toEqual([
      ['ip', 'link', 'set', 'dev', 'eth1', 'name', 'nic1'],
      ['ip', 'link', 'set', 'dev', 'nic1', 'address', '52:54:00:12:34:56', 'mtu', '1500', 'alias', 'uplink b'],
    ]);
  });

  it('adds addresses before bringing the link up (arp_notify announces addresses present at up)', () => {
    const kinds = steps.map((s) => s.kind);
    expect(kinds.lastIndexOf('addr.add')).toBeLessThan(kinds.lastIndexOf('link.set'));
  });

  it('renders copy-pasteable commands', () => {
    const lines = steps.flatMap((s) => doCommands(s).map(render));
    expect(lines).toContain("nsenter --net=/proc/4242/ns/net -- ip addr add 192.168.1.4/24 dev eth1");
    expect(lines).toContain('ip addr del 10.50.0.2/24 dev nic1');
    expect(lines.join('\n')).toContain('alias hostnic:1/id=abcd1234/');
  });
});

describe('--route default@VIA', () => {
  it("replaces the container's default route, as an address's gateway does, after the routes that make its next hop on-link", () => {
    const req = parseAttachRequest({ container: 'pid:4242', nic: 'nic1', addresses: ['192.168.1.77/32'], routes: ['192.168.1.1/32', 'default@192.168.1.1'] });
    const prev = [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }];
    const steps = planAttach({ ...input, request: req, ctrDefaults: { 4: prev, 6: [] } });
    const ids = steps.map((s) => s.id);
    expect(ids.slice(-2)).toEqual(['ctr.routes4', 'ctr.default4']);
    const def = steps.at(-1)!;
    expect(def.kind).toBe('route.default');
    expect(def.params).toMatchObject({ family: 4, gateway: '192.168.1.1', dev: 'eth1', previous: prev });
    expect(doCommands(steps.at(-2)!).map((c) => c.argv.join(' '))).toEqual(['ip route add 192.168.1.1/32 dev eth1']);
  });

  it('a default route on the link (no next hop) replaces the default route too, written in its family: ::/0 stays IPv6', () => {
    const req = parseAttachRequest({ container: 'pid:4242', nic: 'nic1', addresses: ['192.168.1.77/24', 'fd00:1::7/64'], routes: ['::/0', '0.0.0.0/0'] });
    const prev = [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }];
    const defaults = planAttach({ ...input, request: req, ctrDefaults: { 4: prev, 6: [] } }).filter((s) => s.kind === 'route.default');
    expect(defaults.map((s) => s.id)).toEqual(['ctr.default6', 'ctr.default4']);
    expect(defaults.flatMap((s) => doCommands(s).map((c) => c.argv.join(' ')))).toEqual([
      'ip route add ::/0 dev eth1', 'ip route del 0.0.0.0/0 via 172.17.0.1 dev eth0', 'ip route add 0.0.0.0/0 dev eth1',
    ]);
  });
});

describe('planDetach', () => {
  it('is attach reversed and inverted, with the live container-side name', () => {
    const attach = planAttach(input);
    const detach = planDetach(input, {}, { ctrName: 'net0', tmpNs: 'hostnic-ffff0000', path: 'private' });
    // Backwards, with two exceptions: the container-side addresses go before
    // the link goes down (next test), and the private namespace is made first.
    const backwards = attach.map((s, i) => ({ s, i })).reverse();
    const up = backwards.findIndex(({ s }) => s.id === 'ctr.up');
    [backwards[up], backwards[up + 1]] = [backwards[up + 1]!, backwards[up]!];
    const create = backwards.findIndex(({ s }) => s.id === 'tmpns.remove');
    backwards.unshift(...backwards.splice(create, 1));
    expect(detach.map((s) => s.kind)).toEqual(backwards.map(({ s }) => s.kind));
    expect(detach.every((s, k) => !!s.inverse === !attach[backwards[k]!.i]!.inverse)).toBe(true);
    const moveOut = detach.find((s) => s.id === 'move')!;
    expect(doCommands(moveOut)[0]!.argv).toEqual(['ip', 'link', 'set', 'dev', 'net0', 'netns', '/run/netns/hostnic-ffff0000']);
  });

  it('removes the container-side addresses before taking the link down (down drops IPv6 addresses: a rollback from there would lose them)', () => {
    const detach = planDetach(input, {}, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'private' });
    const remove = detach.findIndex((s) => s.kind === 'addr.add' && s.params.ns === '/proc/4242/ns/net');
    const down = detach.findIndex((s) => s.kind === 'link.set' && doCommands(s)[0]!.argv.join(' ') === 'ip link set dev eth1 down');
    expect(remove).toBeGreaterThanOrEqual(0);
    expect(down).toBe(remove + 1);
  });

  it('restores the default route the attach replaced, found by its step id', () => {
    const saved = { 'ctr.default4': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }] };
    const detach = planDetach(input, saved, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'private' });
    const restore = detach.find((s) => s.kind === 'route.default' && s.params.family === 4)!;
    expect(restore.id).toBe('ctr.default4');
    expect(detach.find((s) => s.id === 'ctr.default6')!.saved).toBeUndefined();
    expect(doCommands(restore).map((c) => c.argv.join(' '))).toEqual([
      'ip route del 0.0.0.0/0 via 192.168.1.1 dev eth1',
      'ip route add 0.0.0.0/0 via 172.17.0.1 dev eth0',
    ]);
  });

  it('a NIC back in the host (its namespace died): renamed, then its host settings restored best effort, as a detach does once the NIC is home', () => {
    const rec = { schema: 2, kind: 'attachment', id: 'abcd1234', createdAt: 'x', input, saved: {} } as AttachmentRecord;
    const out = planReturned(rec, 'dev7');
    expect(out[0]!.id).toBe('rename');
    expect(out[0]!.bestEffort).toBeUndefined();
    const host = out.filter((s) => s.id.startsWith('host.'));
    expect(host.length).toBeGreaterThan(0);
    expect(host.every((s) => s.bestEffort === true)).toBe(true);
    const detach = planDetach(input, {}, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'private' });
    expect(detach.filter((s) => s.id.startsWith('host.')).every((s) => s.bestEffort === true)).toBe(true);
  });

  it('gives each step what it saved by id, whatever the order of the record', () => {
    const saved = { 'host.sysctl.ipv4.arp_ignore': '2', 'ctr.default6': [], 'no.such.step': 'x' };
    const detach = planDetach(input, saved, { ctrName: 'eth1', tmpNs: 't', path: 'direct' });
    expect(detach.filter((s) => s.saved !== undefined).map((s) => [s.id, s.saved])).toEqual([
      ['ctr.default6', []], ['host.sysctl.ipv4.arp_ignore', '2'],
    ]);
  });
});

describe('the direct path (the host name is free in the container)', () => {
  const direct: AttachInput = { ...input, path: 'direct' };
  const gone = { 'ctr.default4': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }], 'ctr.default6': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }] };
  const steps = planAttach(direct);
  const lines = (list: typeof steps) => list.flatMap((s) => doCommands(s).map(render));

  it('moves the NIC once, under its host name, then renames and tags it in the container', () => {
    expect(steps.map((s) => `${s.inverse ? '-' : '+'}${s.kind}`)).toEqual([
      // The link goes down before its sysctls are reset: backwards, they are back before it comes up.
      '-route.add', '-addr.add', '+link.set', '+sysctl.set',
      '+link.move', '+sysctl.announce', '+link.set',
      '+addr.add', '+link.set', '+route.default', '+route.default', '+route.add',
    ]);
    const all = lines(steps);
    expect(all).toContain('ip link set dev nic1 netns /proc/4242/ns/net');
    expect(all).toContain(`nsenter --net=/proc/4242/ns/net -- sysctl -q -w net/ipv4/conf/nic1/arp_notify=1 net/ipv6/conf/nic1/ndisc_notify=1`);
    expect(all).toContain('nsenter --net=/proc/4242/ns/net -- ip link set dev nic1 name eth1');
    expect(all).toContain(`nsenter --net=/proc/4242/ns/net -- ip link set dev eth1 address 52:54:00:12:34:56 mtu 1500 alias ${input.tag}`);
    expect(all.join('\n')).not.toMatch(/netns (add|del)|\/run\/netns/);
  });

  it('never renames in the host: every host-side link command keeps the host name', () => {
    const hostCmds = steps.flatMap((s) => doCommands(s)).filter((c) => c.netns === undefined && c.argv[1] === 'link');
    expect(hostCmds.every((c) => c.argv[4] === 'nic1' && !c.argv.includes('name'))).toBe(true);
  });

  it('runs the host side and the move in one process, and the container side after the announcement in another', () => {
    const move = steps.findIndex((s) => s.kind === 'link.move');
    const keys = steps.map((s) => doCommands(s).map(batchKey)[0]);
    expect(new Set(keys.slice(0, move + 1).filter((k, i) => steps[i]!.kind !== 'sysctl.set'))).toEqual(new Set([keys[0]]));
    expect(new Set(keys.slice(move + 2))).toEqual(new Set([keys[move + 2]]));
  });

  it('detach renames in the container and moves the NIC out under its host name, in one container-side batch', () => {
    const detach = planDetach(direct, {}, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'direct' });
    const out = lines(detach);
    const rename = out.indexOf('nsenter --net=/proc/4242/ns/net -- ip link set dev eth1 name nic1');
    expect(out[rename + 1]).toBe(`nsenter --net=/proc/4242/ns/net -- ip link set dev nic1 address 52:54:00:12:34:56 mtu 1500 alias 'uplink b'`);
    const move = out.indexOf(`nsenter --net=/proc/4242/ns/net -- ip link set dev nic1 netns ${lastingOwnNetns()}`);
    expect(rename).toBeGreaterThanOrEqual(0);
    expect(move).toBeGreaterThan(rename);
    expect(detach.map((s) => s.kind)).not.toContain('netns.add');
    // Everything from the first container-side command to the move shares one batch key.
    const ctr = detach.filter((s) => doCommands(s).some((c) => c.netns === '/proc/4242/ns/net'));
    expect(new Set(ctr.flatMap((s) => doCommands(s).map(batchKey))).size).toBe(1);
  });

  it("an argument ip -batch would read as quoted (an alias 'uplink) runs on its own, never in a batch", () => {
    expect(batchKey({ argv: ['ip', 'link', 'set', 'dev', 'nic1', 'alias', 'uplink b'] })).toBeDefined();
    for (const alias of ["'uplink", "'uplink'", 'a"b', 'a#b', 'a\\b']) {
      expect(batchKey({ argv: ['ip', 'link', 'set', 'dev', 'nic1', 'alias', alias] }), alias).toBeUndefined();
    }
  });

  it('detach takes the private namespace when the host name is taken in the container now, keeping what attach saved', () => {
    const detach = planDetach(direct, gone, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'private' });
    expect(detach[0]!.kind).toBe('netns.add');
    expect(lines(detach)).toContain('nsenter --net=/proc/4242/ns/net -- ip link set dev eth1 netns /run/netns/hostnic-x');
    expect(lines(detach)).toContain('nsenter --net=/run/netns/hostnic-x -- ip link set dev eth1 name nic1');
    const restores = detach.filter((s) => s.kind === 'route.default').map((s) => s.saved);
    expect(restores).toEqual([[{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }], [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }]]);
  });

  it('a record of the private path can leave by the direct path', () => {
    const attach = planAttach(input);
    const detach = planDetach(input, { 'host.sysctl.ipv4.arp_ignore': '2' }, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'direct' });
    expect(detach.map((s) => s.kind)).not.toContain('netns.add');
    expect(detach.find((s) => s.kind === 'sysctl.set')!.saved).toBe('2');
    expect(detach.length).toBe(attach.length - 3);
  });

  it('detach restores the host sysctls before the link comes up', () => {
    const up = (s: (typeof steps)[number]) => doCommands(s).some((c) => c.argv.at(-1) === 'up');
    const kinds = (list: typeof steps) => list.map((s) => `${s.kind}${up(s) ? ':up' : ''}`);
    const detach = planDetach(direct, {}, { ctrName: 'eth1', tmpNs: 'hostnic-x', path: 'direct' });
    const k = kinds(detach.filter((s) => s.id.startsWith('host.')));
    expect(k.indexOf('sysctl.set')).toBeLessThan(k.indexOf('link.set:up'));
  });

  it('once the NIC is home, what detach restores on the host is best effort; nothing before it is', () => {
    for (const path of ['direct', 'private'] as const) {
      const detach = planDetach(input, {}, { ctrName: 'eth1', tmpNs: 'hostnic-x', path });
      expect(detach.filter((s) => s.bestEffort).map((s) => s.id))
        .toEqual(['host.sysctl.ipv4.arp_ignore', 'host.down', 'host.addrs', 'host.routes4']);
      expect(planAttach(input).some((s) => s.bestEffort)).toBe(false);
    }
  });

  it('a rollback of the rename inverts it exactly', () => {
    const rename = steps.find((s) => s.id === 'rename')!;
    expect(undoCommands(rename).map(render)).toEqual(doCommands(invert(rename)).map(render));
  });
});

describe('choosePath', () => {
  it('goes direct when the host name is free in the container, else through the private namespace', () => {
    const ctr = [{ ifname: 'lo' }, { ifname: 'eth0', altnames: ['enp0s1'] }];
    expect(choosePath('eth1', ctr)).toBe('direct');
    expect(choosePath('eth0', ctr)).toBe('private');
    expect(choosePath('enp0s1', ctr)).toBe('private');
    // Detach: the NIC itself may carry the host name in the container.
    expect(choosePath('eth1', [...ctr, { ifname: 'eth1' }], 'eth1')).toBe('direct');
    expect(choosePath('eth1', [...ctr, { ifname: 'eth1' }], 'net0')).toBe('private');
  });
});

describe('default route swap', () => {
  it('takes the routes it replaces from the plan, so it needs no read and can share a batch', async () => {
    const { mustCapture } = await import('../../src/steps/index.js');
    const previous = [{ dst: 'default', gateway: 'fd00:9::1', dev: 'eth0', pref: 'medium' }];
    const withPrevious = planAttach({ ...input, ctrDefaults: { 4: [], 6: previous } }).find((s) => s.id === 'ctr.default6')!;
    expect(mustCapture(withPrevious)).toBe(false);
    expect(doCommands(withPrevious).map((c) => c.argv.join(' '))).toEqual([
      'ip route del ::/0 via fd00:9::1 dev eth0 pref medium',
      'ip route add ::/0 via fd00:1::1 dev eth1',
    ]);
    const without = planAttach(input).find((s) => s.kind === 'route.default')!;
    expect(mustCapture(without)).toBe(true);
  });
});

describe('tag', () => {
  it('round-trips the host identity', () => {
    const t = { id: 'abcd1234', name: 'nic1', mac: '52:54:00:12:34:56', mtu: 9000, up: false, alias: 'a b=c', gw4: '172.17.0.1@eth0' };
    expect(decodeTag(encodeTag(t))).toEqual({ ...t, gw6: undefined });
  });
  it('stays within IFALIASZ, dropping optional fields first', () => {
    const tag = encodeTag({ id: 'x', name: 'nic1', mac: '52:54:00:12:34:56', mtu: 1500, up: true, alias: 'y'.repeat(300), gw4: '10.0.0.1@eth0' });
    expect(tag.length).toBeLessThanOrEqual(255);
    expect(decodeTag(tag)?.gw4).toBe('10.0.0.1@eth0');
  });
  it('ignores aliases that are not hostnic tags', () => {
    expect(decodeTag('uplink')).toBeUndefined();
    expect(decodeTag('hostnic:1/id=x')).toBeUndefined();
  });
});

describe('addrArgs', () => {
  it('keeps flags and attributes; a finite lifetime becomes a deadline, and what is left of it is given when the address is added', async () => {
    const { addrArgs, addrExpiry } = await import('../../src/kernel/ip.js');
    const { lifetimeLeft } = await import('../../src/steps/addr.js');
    const dhcp = { family: 'inet', local: '10.0.0.2', prefixlen: 24, broadcast: '10.0.0.255', scope: 'global', valid_life_time: 3542, preferred_life_time: 1742 } as const;
    expect(addrArgs(dhcp, 'nic1')).toEqual(['10.0.0.2/24', 'broadcast', '10.0.0.255', 'dev', 'nic1']);
    const e = addrExpiry(dhcp, 1000)!;
    expect(e).toEqual({ valid: 4542, preferred: 2742 });
    expect(lifetimeLeft(e, 1000)).toEqual(['valid_lft', '3542', 'preferred_lft', '1742']);
    expect(lifetimeLeft(e, 3000)).toEqual(['valid_lft', '1542', 'preferred_lft', '0']);
    expect(lifetimeLeft(e, 4542)).toBeUndefined();
    const forever = { family: 'inet6', local: 'fd00::2', prefixlen: 64, scope: 'global', valid_life_time: 4294967295, preferred_life_time: 4294967295 } as const;
    expect(addrArgs(forever, 'nic1')).toEqual(['fd00::2/64', 'dev', 'nic1']);
    expect(addrExpiry(forever, 1000)).toBeUndefined();
    expect(addrArgs({ family: 'inet', local: '10.0.0.1', address: '10.0.0.2', prefixlen: 32, scope: 'global', label: 'nic1:p', noprefixroute: true }, 'nic1'))
      .toEqual(['10.0.0.1/32', 'peer', '10.0.0.2/32', 'label', 'nic1:p', 'noprefixroute', 'dev', 'nic1']);
    expect(addrArgs({ family: 'inet6', local: 'fd00::3', prefixlen: 64, scope: 'global', nodad: true, mngtmpaddr: true }, 'nic1'))
      .toEqual(['fd00::3/64', 'nodad', 'mngtmpaddr', 'dev', 'nic1']);
  });

  it('an address whose lifetime ended while attached is not restored; a peer address is deleted with its peer', async () => {
    const { addrAdd } = await import('../../src/steps/addr.js');
    const now = Date.now() / 1000;
    const p = {
      ns: null, dev: 'nic1', addrs: [['10.0.0.2/24'], ['10.0.1.2/24'], ['10.0.0.1/32', 'peer', '10.0.0.9/32']],
      expires: { '10.0.0.2/24': { valid: now - 5, preferred: now - 5 }, '10.0.1.2/24': { valid: now + 100, preferred: now + 50 } },
    };
    const add = addrAdd.apply(p, undefined).map((c) => c.argv.join(' '));
    expect(add).toHaveLength(2);
    expect(add[0]).toMatch(/^ip addr add 10\.0\.1\.2\/24 valid_lft (99|100) preferred_lft (49|50) dev nic1$/);
    expect(add[1]).toBe('ip addr add 10.0.0.1/32 peer 10.0.0.9/32 dev nic1');
    expect(addrAdd.undo(p, undefined).map((c) => c.argv.join(' '))[0]).toBe('ip addr del 10.0.0.1/32 peer 10.0.0.9/32 dev nic1');
  });
});

describe('state files', () => {
  it('a record keeps what the steps saved by step id; one of another schema is reported, not read', async () => {
    const { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { StateDir, SCHEMA } = await import('../../src/state.js');
    const { finalize } = await import('../../src/runner/journal.js');
    const { loadRecords } = await import('../../src/records.js');
    const dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
    try {
      const state = new StateDir(dir);
      mkdirSync(state.attachDir, { recursive: true });
      mkdirSync(state.journalDir, { recursive: true });
      const { withSaved } = await import('../../src/steps/index.js');
      const captured = { 'ctr.default4': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }], 'host.sysctl.ipv4.arp_ignore': '2' };
      const steps = planAttach(input).map((s) => withSaved(s, captured));
      finalize(state, {
        schema: SCHEMA, id: 'abcd0001', command: 'attach', title: 't', pid: 1, startedAt: '', phase: 'apply', touches: [], locks: [],
        finalize: { write: [{ path: 'attachments/abcd1234.json', value: { schema: SCHEMA, kind: 'attachment', id: 'abcd1234', createdAt: '', input }, saved: true }] },
        steps: steps.map((spec) => ({ spec, state: 'done' as const })),
      });
      const written = JSON.parse(readFileSync(join(state.attachDir, 'abcd1234.json'), 'utf8'));
      expect(written.schema).toBe(2);
      expect(written.saved).toEqual({ 'ctr.default4': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }], 'host.sysctl.ipv4.arp_ignore': '2' });
      writeFileSync(join(state.attachDir, 'old.json'), JSON.stringify({ ...written, schema: 1, saved: [null] }));
      const { records, bad } = loadRecords(state);
      expect(records.map((r) => r.id)).toEqual(['abcd1234']);
      expect(bad).toEqual([{ file: join(state.attachDir, 'old.json'), error: 'written by a hostnic with state schema 1; this hostnic reads schema 2' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
