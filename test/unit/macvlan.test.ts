/** attach --macvlan (issue 16), as data: the request, the child's MAC, the checks on the parent, the plan and its record. */
import { describe, expect, it } from 'vitest';
import type { Link, NsState } from '../../src/kernel/ip.js';
import { attachInput, macvlanIdentity } from '../../src/plan/attach-input.js';
import { attachTouches, planAttach } from '../../src/plan/attach.js';
import { planDetach } from '../../src/plan/detach.js';
import { planReturned } from '../../src/plan/returned.js';
import { recordFromTag, recordProblem, type AttachmentRecord } from '../../src/records.js';
import { macvlanMac, parseAttachRequest } from '../../src/request/parse.js';
import type { Target } from '../../src/runtime/types.js';
import { doCommands, undoCommands } from '../../src/steps/index.js';
import { decodeTag } from '../../src/tag.js';

const docker: Target = {
  display: 'docker:web', kind: 'docker', nsPath: '/proc/4242/ns/net', nsId: '4:1234', pid: 4242,
  runtime: { name: 'docker', id: 'a'.repeat(64), containerName: 'web' },
};
const parent: Link = {
  ifindex: 2, ifname: 'eth0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], mtu: 1500, address: '52:54:00:12:34:56', link_type: 'ether',
};
const empty = (links: Link[] = []): NsState => ({ links: links.map((l) => ({ ...l, addr_info: [] })), routes4: [], routes6: [], neigh: [] } as unknown as NsState);
const hostOf = (l: Link) => ({ name: l.ifname, ifindex: l.ifindex, mac: l.address!, mtu: l.mtu, up: true, addrs: [], routes: [], sysctls: [] });
const req = (more: Record<string, unknown> = {}) => parseAttachRequest({ container: 'docker:web', nic: 'eth0', addresses: ['192.168.1.21/24@192.168.1.1'], macvlan: true, ...more });
const input = (r = req(), link: Link = parent, target: Target = docker) =>
  attachInput('abcd1234', r, target, { link, host: hostOf(link), hostState: empty([link]), ctrState: empty() });

describe('macvlan: the request', () => {
  it('defaults to bridge; takes private and vepa; refuses passthru, an unknown mode, and a mode without --macvlan (exit 2)', () => {
    expect(req().macvlan).toEqual({ mode: 'bridge' });
    expect(req({ macvlanMode: 'VEPA' }).macvlan).toEqual({ mode: 'vepa' });
    const refused = (more: Record<string, unknown>): Error & { exitCode?: number } => {
      try { req(more); } catch (e) { return e as Error; }
      throw new Error('accepted');
    };
    expect(refused({ macvlanMode: 'passthru' }).message).toMatch(/passthru is not supported/);
    expect(refused({ macvlanMode: 'bogus' }).message).toMatch(/unknown --macvlan-mode "bogus"/);
    expect(refused({ macvlan: false, macvlanMode: 'bridge' }).message).toMatch(/needs --macvlan/);
    expect(refused({ macvlanMode: 'x' }).exitCode).toBe(2);
  });
});

describe('macvlan: the child MAC', () => {
  it('is stable per (container, parent), locally administered and unicast, and differs between containers and parents', () => {
    const a = macvlanMac('docker:web', '52:54:00:12:34:56');
    expect(macvlanMac('docker:web', '52:54:00:12:34:56')).toBe(a);
    expect(a).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    const first = parseInt(a.slice(0, 2), 16);
    expect(first & 0x02).toBe(2);
    expect(first & 0x01).toBe(0);
    expect(macvlanMac('docker:db', '52:54:00:12:34:56')).not.toBe(a);
    expect(macvlanMac('docker:web', '52:54:00:12:34:57')).not.toBe(a);
    for (let i = 0; i < 200; i++) expect(parseInt(macvlanMac(`c${i}`, 'aa:bb:cc:dd:ee:ff').slice(0, 2), 16) & 0x03).toBe(2);
  });

  it('names a runtime container by runtime and name (not by its id, which a re-create changes), netns by name, pid by namespace', () => {
    expect(macvlanIdentity(docker)).toBe('docker:web');
    expect(macvlanIdentity({ ...docker, runtime: { ...docker.runtime!, id: 'b'.repeat(64) } })).toBe('docker:web');
    expect(macvlanIdentity({ display: 'netns:blue', kind: 'netns', nsPath: '/run/netns/blue', nsId: '4:9' })).toBe('netns:/run/netns/blue');
    expect(macvlanIdentity({ display: 'pid:7', kind: 'pid', nsPath: '/proc/7/ns/net', nsId: '4:77', pid: 7 })).toBe('ns:4:77');
    expect(input().host.mac).toBe(macvlanMac('docker:web', parent.address!));
    expect(input(req({ mac: '02:00:00:00:00:09' })).host.mac).toBe('02:00:00:00:00:09');
  });
});

describe('macvlan: what can be a parent', () => {
  const refusal = (link: Link, r = req()): string => {
    try { input(r, link); } catch (e) { return (e as Error).message; }
    return 'accepted';
  };
  it('takes the primary NIC without --force (it stays in the host), and refuses what cannot be a parent', () => {
    const primary = attachInput('abcd1234', req(), docker, {
      link: parent, host: hostOf(parent), ctrState: empty(),
      hostState: { ...empty([parent]), routes4: [{ dst: 'default', gateway: '192.168.1.1', dev: 'eth0' }] } as NsState,
    });
    expect(primary.macvlan).toEqual({ parent: 'eth0', mode: 'bridge' });
    expect(refusal({ ...parent, ifname: 'lo', flags: ['LOOPBACK', 'UP'], link_type: 'loopback' })).toMatch(/lo is the loopback device/);
    expect(refusal({ ...parent, linkinfo: { info_kind: 'macvlan' }, link: 'eth0', ifname: 'mv0' })).toMatch(/mv0 is itself a macvlan child of eth0/);
    expect(refusal({ ...parent, flags: ['BROADCAST', 'MULTICAST'] })).toMatch(/eth0 is down: a macvlan child needs its parent up/);
    expect(refusal(parent, req({ mac: '52:54:00:12:34:56' }))).toMatch(/eth0's own MAC/);
    expect(refusal(parent, req({ mtu: 9000 }))).toMatch(/above eth0's MTU 1500/);
  });
});

describe('macvlan: the plan', () => {
  const i = input();
  const steps = planAttach(i);

  it('changes nothing in the host: creates the child in the container, tags and configures it there', () => {
    expect(steps.map((s) => `${s.kind} ${s.id}`)).toEqual([
      'macvlan.create macvlan', 'sysctl.announce ctr.announce', 'link.set tag', 'addr.add ctr.addrs', 'link.set ctr.up', 'route.default ctr.default4',
    ]);
    expect(doCommands(steps[0]!)[0]!.argv).toEqual([
      'ip', 'link', 'add', 'link', 'eth0', 'name', 'eth1', 'netns', '/proc/4242/ns/net', 'address', i.host.mac, 'type', 'macvlan', 'mode', 'bridge',
    ]);
    expect(doCommands(steps[0]!)[0]!.netns).toBeUndefined();
    expect(undoCommands(steps[0]!)[0]!.argv).toEqual(['ip', 'link', 'del', 'dev', 'eth1']);
    expect(undoCommands(steps[0]!)[0]!.netns).toBe('/proc/4242/ns/net');
    expect(steps.every((s) => !('ns' in s.params) || s.params.ns !== null)).toBe(true);
    expect(attachTouches(i)).toEqual(['eth0']);
    expect(decodeTag(i.tag)).toMatchObject({ name: 'eth0', mac: i.host.mac, macvlan: 'bridge' });
  });

  it('detach is attach backwards, ending with the delete of the child where it is (never a move to the host)', () => {
    const out = planDetach(i, {}, { ctrName: 'eth1', tmpNs: 'hostnic-ffff0000', path: 'direct' });
    expect(out.map((s) => s.id)).toEqual(['ctr.default4', 'ctr.addrs', 'ctr.up', 'tag', 'ctr.announce', 'macvlan']);
    expect(out.some((s) => s.kind === 'link.move')).toBe(false);
    expect(doCommands(out.at(-1)!)[0]!.argv).toEqual(['ip', 'link', 'del', 'dev', 'eth1']);
  });

  it('a child found in the host (moved there by hand) is deleted there, and nothing else happens to the host', () => {
    const rec = { schema: 2, kind: 'attachment', id: 'abcd1234', createdAt: 'x', input: i, saved: {} } as AttachmentRecord;
    const out = planReturned(rec, 'eth1');
    expect(out.map((s) => s.kind)).toEqual(['macvlan.create']);
    const [cmd] = doCommands(out[0]!);
    expect(cmd!.argv).toEqual(['ip', 'link', 'del', 'dev', 'eth1']);
    expect(cmd!.netns).toBeUndefined();
  });

  it('its record validates, and one that contradicts itself does not; a tag alone rebuilds a macvlan record', () => {
    const rec: AttachmentRecord = { schema: 2, kind: 'attachment', id: 'abcd1234', createdAt: 'x', input: i, saved: {} } as AttachmentRecord;
    const json = JSON.parse(JSON.stringify(rec)) as AttachmentRecord;
    expect(recordProblem(json, 'abcd1234.json')).toBeUndefined();
    expect(recordProblem({ ...json, input: { ...json.input, macvlan: { parent: 'eth9', mode: 'bridge' } } }, 'abcd1234.json')).toMatch(/macvlan.parent/);
    expect(recordProblem({ ...json, input: { ...json.input, macvlan: { parent: 'eth0', mode: 'passthru' } } }, 'abcd1234.json')).toMatch(/macvlan.mode/);
    const fromTag = recordFromTag({ ifname: 'eth1', address: i.host.mac, mtu: 1500, ifalias: i.tag }, decodeTag(i.tag)!, docker, { defaults: { 4: [], 6: [] } });
    expect(fromTag.input.macvlan).toEqual({ parent: 'eth0', mode: 'bridge' });
    expect(planAttach(fromTag.input)[0]!.kind).toBe('macvlan.create');
  });
});
