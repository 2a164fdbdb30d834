/**
 * steps/validate.ts, runner/schema.ts, records.ts recordProblem and
 * doctor/records.ts fixRecordProblem: every kind with good and bad params,
 * the journal's envelope, records. Pure: no system is read.
 */
import { describe, expect, it } from 'vitest';
import { checkStep, problemOf, stepsProblem, type Bounds } from '../../src/steps/validate.js';
import { journalProblem } from '../../src/runner/journal.js';
import { recordProblem, tagDisagreements, type AttachmentRecord } from '../../src/records.js';
import { fixRecordProblem } from '../../src/doctor/records.js';
import { defaultHostPaths, managedFiles } from '../../src/host/paths.js';
import { planAttach, type AttachInput } from '../../src/plan/attach.js';
import { fixPlan, undoSteps } from '../../src/plan/doctor.js';
import { fileWriteStep, nmReloadStep, nmUnmanagedStep, networkdReloadStep, sysctlSetStep } from '../../src/doctor/steps.js';
import { decodeTag } from '../../src/tag.js';
import { routeArgs } from '../../src/kernel/ip.js';
import { attachInput } from '../../src/plan/attach-input.js';
import type { Check } from '../../src/doctor/types.js';

const bounds: Bounds = managedFiles(defaultHostPaths({ HOSTNIC_CONFIG_ROOT: '/cfg' }));
const why = (step: unknown): string | undefined => problemOf(() => checkStep(step, bounds));
const step = (kind: string, params: unknown, more: Record<string, unknown> = {}): Record<string, unknown> => ({ kind, id: 'x.y', title: 'T', params, ...more });

/** Each kind: params that pass, and params that must not (with a word of the reason). */
const CASES: Record<string, { good: unknown[]; bad: [unknown, RegExp][] }> = {
  'netns.add': {
    good: [{ name: 'hostnic-0a1b2c3d' }],
    bad: [[{ name: 'blue' }, /private namespace/], [{ name: '../x' }, /private namespace/], [{}, /has no name/]],
  },
  'link.move': {
    good: [{ name: 'nic1', mac: '52:54:00:12:34:56', ifindex: 7, from: null, to: '/proc/42/ns/net' }, { name: 'eth1', from: '/run/netns/hostnic-ab', to: null }],
    bad: [
      [{ name: 'nic1', from: null, to: '/proc/42/../1/ns/net' }, /plain form/],
      [{ name: 'nic1', from: null, to: 'relative/path' }, /plain form/],
      [{ name: 'nic1', from: null, to: null }, /namespace it is in/],
      [{ name: 'a/b', from: null, to: '/proc/1/ns/net' }, /not a valid interface name/],
      [{ name: 'nic1', mac: 'zz', from: null, to: '/x' }, /link-layer address/],
      [{ name: 'nic1', ifindex: -1, from: null, to: '/x' }, /whole number/],
    ],
  },
  'link.set': {
    good: [
      { ns: '/proc/1/ns/net', from: { name: 'nic1', alias: 'rack 7', mac: '52:54:00:12:34:56', mtu: 1500 }, to: { name: 'eth1', alias: 'hostnic:1/id=ab', mtu: 9000, up: true } },
      { ns: null, from: { name: 'nic1', up: true, mac: '', ifindex: 3 }, to: { up: false } },
    ],
    bad: [
      [{ ns: null, from: { name: 'nic1', mtu: '1500' }, to: {} }, /from\.mtu: not a whole number/],
      [{ ns: null, from: { name: 'nic1' }, to: { up: 'yes' } }, /to\.up: not true or false/],
      [{ ns: null, from: { name: 'nic1' }, to: { alias: 'a\nb' } }, /control character/],
      [{ ns: null, from: {}, to: {} }, /from: has no name/],
      [{ ns: null, from: { name: 'nic1' }, to: { owner: 0 } }, /unknown field "owner"/],
    ],
  },
  'addr.add': {
    good: [
      { ns: null, dev: 'nic1', addrs: [['10.0.0.1/24', 'broadcast', '10.0.0.255', 'noprefixroute'], ['10.0.0.2/32', 'peer', '10.0.0.9/32'], ['fd00::1/64', 'nodad', 'label', 'nic1:x']], expires: { '10.0.0.1/24': { valid: 1e9, preferred: 1e9 } } },
    ],
    bad: [
      [{ ns: null, dev: 'nic1', addrs: [] }, /empty/],
      [{ ns: null, dev: 'nic1', addrs: [['10.0.0.1']] }, /ADDRESS\/PREFIX/],
      [{ ns: null, dev: 'nic1', addrs: [['10.0.0.1/24', 'valid_lft', '5']] }, /not an address argument/],
      [{ ns: null, dev: 'nic1', addrs: [['10.0.0.1/24', 'peer', 'x']] }, /not an IP address/],
      [{ ns: null, dev: 'nic1', addrs: [['10.0.0.1/33']] }, /ADDRESS\/PREFIX/],
      [{ ns: null, dev: 'nic1', addrs: [['10.0.0.1/24']], expires: { x: { valid: 1, preferred: 1 } } }, /ADDRESS\/PREFIX/],
    ],
  },
  'route.add': {
    good: [
      { ns: null, family: 4, routes: [['10.9.0.0/16', 'via', '10.0.0.1', 'dev', 'nic1', 'proto', 'static', 'metric', '101', 'table', '100', 'onlink']] },
      { ns: null, family: 6, routes: [['unreachable', 'fd00:9::/64', 'metric', '5'], ['default', 'dev', 'eth1'], ['fd00:8::/64', 'nexthop', 'via', 'fe80::1', 'dev', 'nic1', 'weight', '2', 'nexthop', 'dev', 'nic2']] },
      { ns: null, family: 4, routes: [['10.0.0.7', 'dev', 'nic1', 'scope', 'link', 'src', '10.0.0.2', 'mtu', '1400', 'pref', 'medium']] },
      // A locked metric, as kernel/ip.ts routeArgs writes it.
      { ns: null, family: 4, routes: [routeArgs({ dst: '10.8.0.0/16', gateway: '10.9.0.2', metrics: [{ mtu: { lock: true, value: 1400 }, advmss: 1300 }] }, 'nic1')] },
    ],
    bad: [
      [{ ns: null, family: 5, routes: [['10.9.0.0/16']] }, /not 4 or 6/],
      [{ ns: null, family: 4, routes: [['10.9.0.0/16', 'exec', 'x']] }, /not a route argument/],
      [{ ns: null, family: 4, routes: [['10.9.0.0/16', 'dev', 'nic1 x']] }, /not one plain argument/],
      [{ ns: null, family: 4, routes: [['10.9.0.0/16', 'metric', '-1']] }, /whole number/],
      [{ ns: null, family: 4, routes: [['nowhere']] }, /route destination/],
      [{ ns: null, family: 4, routes: [['10.9.0.0/16', 'nexthop', 'metric', '1']] }, /next hop/],
      [{ ns: null, family: 4, routes: [['10.9.0.0/16', 'dev', 'a"b']] }, /plain argument/],
      [{ ns: null, family: 4, routes: [['10.9.0.0/16', 'mtu', 'lock']] }, /not one plain argument|\[3\]/],
    ],
  },
  'route.default': {
    good: [{ ns: '/proc/9/ns/net', family: 4, gateway: '172.17.0.1', dev: 'eth1', previous: [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0', protocol: 'boot', flags: [] }] }],
    bad: [
      [{ ns: null, family: 4, gateway: 'gw', dev: 'eth1' }, /not an IP address/],
      [{ ns: null, family: 4, gateway: '10.0.0.1', dev: 'eth1', previous: [{ dst: 'default', dev: 'eth0 up' }] }, /not a valid interface name/],
      [{ ns: null, family: 4, gateway: '10.0.0.1', dev: 'eth1', previous: [{ gateway: '10.0.0.1' }] }, /has no dst/],
    ],
  },
  'neigh.add': {
    good: [{ ns: null, dev: 'nic1', entries: [{ dst: '10.0.0.9', lladdr: '52:54:00:00:00:09' }, { dst: 'fd00::9' }] }],
    bad: [[{ ns: null, dev: 'nic1', entries: [{ dst: '10.0.0.9', lladdr: 'x' }] }, /link-layer/], [{ ns: null, dev: 'nic1', entries: [] }, /empty/]],
  },
  'link.master': {
    good: [{ ns: null, dev: 'nic1', master: 'br0' }],
    bad: [[{ ns: null, dev: 'nic1', master: '' }, /interface name/]],
  },
  'sysctl.set': {
    good: [{ ns: null, key: 'net/ipv4/conf/all/arp_ignore', value: '1' }, { ns: '/run/netns/lab', key: 'net/ipv6/conf/nic1.5/accept_ra', value: '0' }],
    bad: [
      [{ ns: null, key: 'kernel/core_pattern', value: '|/tmp/x' }, /not a per-interface sysctl/],
      [{ ns: null, key: 'net/ipv4/conf/nic1/../../../../kernel/core_pattern', value: '1' }, /not a per-interface sysctl/],
      [{ ns: null, key: 'net/ipv4/ip_forward', value: '1' }, /not a per-interface sysctl/],
      [{ ns: null, key: 'net.ipv4.conf.all.arp_ignore', value: '1' }, /not a per-interface sysctl/],
      [{ ns: null, key: 'net/ipv4/conf/all/arp_ignore', value: '1\n2' }, /one-line/],
      [{ ns: null, key: 'net/ipv4/conf/all/arp_ignore', value: 1 }, /one-line/],
    ],
  },
  'sysctl.announce': {
    good: [{ ns: '/proc/1/ns/net', dev: 'eth1' }],
    bad: [[{ ns: '/proc/1/ns/net', dev: 'all' }, /interface name/]],
  },
  'file.write': {
    good: [
      { path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: 'x\n', mode: '0644' },
      { path: '/cfg/etc/NetworkManager/conf.d/90-hostnic.conf', content: '', mode: '0600' },
      { path: '/cfg/etc/systemd/network/00-hostnic-525400123456.network', content: '', mode: '644' },
      { path: '/cfg/etc/systemd/network/00-hostnic-nic1.network', content: '', mode: '0644' },
      { path: '/cfg/etc/hostnic/attachments.yaml', content: '', mode: '0600' },
    ],
    bad: [
      [{ path: '/tmp/x', content: '', mode: '0644' }, /not a file hostnic manages/],
      [{ path: '/etc/sysctl.d/90-hostnic.conf', content: '', mode: '0644' }, /not a file hostnic manages/], // not under the configuration root
      [{ path: '/cfg/etc/sysctl.d/../../../tmp/90-hostnic.conf', content: '', mode: '0644' }, /plain form/],
      [{ path: '/cfg/etc/sysctl.d//90-hostnic.conf', content: '', mode: '0644' }, /plain form/],
      [{ path: 'cfg/etc/sysctl.d/90-hostnic.conf', content: '', mode: '0644' }, /plain form/],
      [{ path: '/cfg/etc/systemd/network/00-hostnic-x/y.network', content: '', mode: '0644' }, /not a file hostnic manages/],
      [{ path: '/cfg/etc/systemd/network/10-other.network', content: '', mode: '0644' }, /not a file hostnic manages/],
      [{ path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: '', mode: '4755' }, /setuid/],
      [{ path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: '', mode: '02644' }, /setuid, setgid or sticky/],
      [{ path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: '', mode: '0646' }, /writable by others/],
      [{ path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: '', mode: '0664' }, /writable by the group/],
      [{ path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: '', mode: 'rwx' }, /octal/],
      [{ path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: 3, mode: '0644' }, /content/],
    ],
  },
  'nm.managed': {
    good: [{ device: 'nic1', managed: false }],
    bad: [[{ device: 'nic1', managed: 'no' }, /not true or false/], [{ device: '-x', managed: true }, /interface name/]],
  },
  'nm.reload': { good: [{}], bad: [[{ argv: ['sh'] }, /unknown field "argv"/]] },
  'networkd.reload': { good: [{}], bad: [[{ x: 1 }, /unknown field "x"/]] },
};

describe('steps/validate.ts: every kind', () => {
  for (const [kind, { good, bad }] of Object.entries(CASES)) {
    it(`${kind}: good params pass, bad ones are refused with where and why`, () => {
      for (const p of good) expect(why(step(kind, p)), JSON.stringify(p)).toBeUndefined();
      for (const [p, re] of bad) {
        const w = why(step(kind, p));
        expect(w, JSON.stringify(p)).toMatch(re);
        expect(w).toMatch(new RegExp(`^step \\(${kind.replace('.', '\\.')}\\)\\.params`));
        expect(w).not.toContain('\n');
      }
    });
  }

  it('the envelope: unknown kind, bad id, bad title, unknown field, saved of a kind that saves nothing', () => {
    expect(why(step('shell.run', {}))).toBe('step.kind: unknown step kind "shell.run"');
    expect(why(step('__proto__', {}))).toMatch(/unknown step kind/);
    expect(why(step('nm.reload', {}, { id: '../x y' }))).toMatch(/is not a step id/);
    expect(why(step('nm.reload', {}, { id: 7 }))).toMatch(/is not a step id/);
    expect(why(step('nm.reload', {}, { title: '\u001b]0;owned\u0007' }))).toMatch(/title: holds a control character/);
    expect(why(step('nm.reload', {}, { run: true }))).toMatch(/unknown field "run"/);
    expect(why(step('nm.reload', {}, { inverse: 'yes' }))).toMatch(/inverse: not true or false/);
    expect(why(step('nm.reload', {}, { saved: 1 }))).toMatch(/saves nothing/);
    expect(why('x')).toBe('step: not an object');
    expect(why(step('nm.reload', 'x'))).toMatch(/params: not an object/);
  });

  it('what a kind saved is checked too', () => {
    const file = { path: '/cfg/etc/sysctl.d/90-hostnic.conf', content: 'x\n', mode: '0644' };
    expect(why(step('file.write', file, { saved: { existed: true, content: 'old', mode: '0600', uid: 0, gid: 0, createdDirs: [] } }))).toBeUndefined();
    expect(why(step('file.write', file, { saved: { existed: false, createdDirs: ['/cfg/etc/sysctl.d', '/cfg/etc'] } }))).toBeUndefined();
    expect(why(step('file.write', file, { saved: { existed: true, content: 'old', mode: '4755', createdDirs: [] } }))).toMatch(/saved\.mode: mode 4755 has a setuid/);
    expect(why(step('file.write', file, { saved: { existed: true, content: 'old', mode: '0666', createdDirs: [] } }))).toMatch(/writable by others/);
    expect(why(step('file.write', file, { saved: { existed: false, createdDirs: ['/home'] } }))).toMatch(/not a directory above/);
    expect(why(step('file.write', file, { saved: { existed: false } }))).toMatch(/has no createdDirs/);
    expect(why(step('sysctl.set', { ns: null, key: 'net/ipv4/conf/all/arp_ignore', value: '1' }, { saved: '0' }))).toBeUndefined();
    expect(why(step('sysctl.set', { ns: null, key: 'net/ipv4/conf/all/arp_ignore', value: '1' }, { saved: ['0'] }))).toMatch(/one-line/);
    expect(why(step('nm.managed', { device: 'nic1', managed: false }, { saved: 'yes' }))).toMatch(/not true or false/);
    expect(why(step('route.default', { ns: null, family: 4, gateway: '10.0.0.1', dev: 'eth1' }, { saved: [{ dst: 'default', gateway: '10.0.0.254', dev: 'eth0' }] }))).toBeUndefined();
    expect(why(step('route.default', { ns: null, family: 4, gateway: '10.0.0.1', dev: 'eth1' }, { saved: [{ dst: 'default', gateway: 'x' }] }))).toMatch(/saved\[0\]\.gateway/);
  });

  it('stepsProblem names the first bad step by its index', () => {
    expect(stepsProblem([step('nm.reload', {}), step('nm.reload', { x: 1 })], bounds)).toMatch(/^steps\[1\] \(nm\.reload\)\.params: has an unknown field/);
    expect(stepsProblem('x', bounds)).toBe('steps: not a list');
  });
});

const input: AttachInput = {
  id: 'abcd1234',
  request: { target: { kind: 'pid', pid: 42 }, nic: { kind: 'name', name: 'nic1' }, addresses: [{ family: 4, address: '10.0.0.5', prefix: 24, cidr: '10.0.0.5/24', gateway: '10.0.0.1' }], routes: [{ family: 4, dst: '10.8.0.0/16', via: '10.0.0.1' }], force: false },
  host: {
    name: 'nic1', ifindex: 7, mac: '52:54:00:12:34:56', mtu: 1500, up: true, alias: 'rack 7',
    addrs: [['192.168.1.4/24', 'noprefixroute']], routes: [{ family: 4, args: ['10.20.0.0/16', 'via', '192.168.1.1', 'dev', 'nic1', 'proto', 'static'] }],
    sysctls: [{ key: 'net/ipv4/conf/nic1/arp_ignore', value: '1', defaultValue: '0' }], neigh: [{ dst: '192.168.1.9', lladdr: '52:54:00:00:00:09' }],
  },
  target: { display: 'pid:42', kind: 'pid', nsPath: '/proc/42/ns/net', nsId: '4:4026532000', pid: 42 },
  ctrName: 'eth1', tmpNs: 'hostnic-abcd1234', tag: 'hostnic:1/id=abcd1234/n=nic1/m=52:54:00:12:34:56/t=1500/u=1', path: 'direct',
  ctrDefaults: { 4: [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }], 6: [] },
};
const record = (over: Partial<AttachInput> = {}, saved: Record<string, unknown> = {}): AttachmentRecord =>
  ({ schema: 2, kind: 'attachment', id: 'abcd1234', createdAt: '2026-01-01T00:00:00.000Z', input: { ...input, ...over }, saved });

describe('journals (runner/schema.ts)', () => {
  const steps = planAttach(input).map((spec) => ({ spec, state: 'done' }));
  const journal = (more: Record<string, unknown> = {}): Record<string, unknown> => ({
    schema: 2, id: '0a0b0c0d', command: 'attach', title: 'Attach nic1', pid: 4242, pidStart: 123, startedAt: '2026-01-01T00:00:00.000Z', phase: 'apply',
    touches: ['nic1', '52:54:00:12:34:56'], locks: ['52:54:00:12:34:56', 'nic1', 'ns:4:4026532000'],
    finalize: { write: [{ path: 'attachments/abcd1234.json', value: record(), saved: true }] }, steps, ...more,
  });

  it('an attach journal as the runner writes it passes; so do doctor fix and undo journals', () => {
    expect(journalProblem(journal(), '0a0b0c0d.json', bounds)).toBeUndefined();
    // A PCI selector's lock, with a domain as the parser takes it (Intel VMD's 10000 as well).
    for (const pci of ['0000:00:05.0', '10000:e1:00.0']) expect(journalProblem(journal({ locks: [pci, 'nic1'] }), '0a0b0c0d.json', bounds), pci).toBeUndefined();
    const check: Check = {
      id: 'arp-flux', verdict: 'fail', title: '', why: '', nics: ['nic1'],
      fix: { summary: '', steps: [sysctlSetStep(undefined, 'net/ipv4/conf/all/arp_ignore', '1'), nmUnmanagedStep('nic1'), nmReloadStep('before'), fileWriteStep('/cfg/etc/NetworkManager/conf.d/90-hostnic.conf', 'x', 'y'), nmReloadStep('after'), networkdReloadStep('before')] },
    };
    const fix = fixPlan([check], '00c0ffee', '2026-01-01T00:00:00.000Z');
    expect(journalProblem(journal({ id: '00c0ffee', touches: fix.touches, locks: ['doctor:fix', 'nic1', '0000:00:05.0'], finalize: fix.finalize, steps: fix.steps.map((spec) => ({ spec, state: 'pending' })) }), '00c0ffee.json', bounds)).toBeUndefined();
    const rec = { ...(fix.finalize.write![0]!.value as object), saved: { 'sysctl:net.ipv4.conf.all.arp_ignore': '0', 'nm.managed:nic1': true } };
    expect(fixRecordProblem(rec, 'fix-00c0ffee.json', bounds)).toBeUndefined();
    const undo = undoSteps([rec as never]).map((spec) => ({ spec, state: 'undone' }));
    expect(journalProblem(journal({ id: '0000ffff', finalize: { remove: ['doctor/fix-00c0ffee.json'] }, steps: undo, touches: ['doctor:fix', 'nic1'], locks: ['doctor:fix'] }), '0000ffff.json', bounds)).toBeUndefined();
  });

  it('refuses what does not have the form hostnic writes, naming where', () => {
    const cases: [Record<string, unknown>, RegExp, string?][] = [
      [{ id: '../../x' }, /^id: "\.\.\/\.\.\/x" is not a hex id$/],
      [{ id: '0a0b0c0e' }, /^id: "0a0b0c0e" is not the file's own name$/],
      [{ phase: 'run' }, /^phase: not apply or rollback$/],
      [{ pid: '1' }, /^pid: /],
      [{ touches: ['../../etc'] }, /^touches\[0\]: .* names no NIC/],
      [{ touches: ['file:/etc/shadow'] }, /^touches\[0\]: "file:\/etc\/shadow" names no NIC, namespace, doctor lock or file hostnic manages$/],
      [{ locks: ['..'] }, /^locks\[0\]: /],
      [{ finalize: { write: [{ path: '../../../tmp/x.json', value: { id: 'x' } }] } }, /^finalize\.write\[0\]\.path: .* is not a record in the state directory$/],
      [{ finalize: { write: [{ path: 'attachments/abcd1234.json', value: { id: 'ffff' } }] } }, /^finalize\.write\[0\]\.value\.id: is not the id in its path$/],
      [{ finalize: { remove: ['/etc/passwd'] } }, /^finalize\.remove\[0\]: /],
      [{ finalize: { remove: ['attachments/../../x.json'] } }, /^finalize\.remove\[0\]: /],
      [{ finalize: { run: [] } }, /^finalize: has an unknown field "run"$/],
      [{ steps: [{ spec: steps[0]!.spec, state: 'maybe' }] }, /^steps\[0\]\.state: "maybe" is not a step state$/],
      [{ steps: [{ spec: { ...steps[0]!.spec, kind: 'shell.run' }, state: 'done' }] }, /^steps\[0\]\.kind: unknown step kind "shell\.run"$/],
      [{ steps: [{ spec: steps[0]!.spec, state: 'done', error: 3 }] }, /^steps\[0\]\.error: not a string$/],
      [{ extra: 1 }, /^journal: has an unknown field "extra"$/],
    ];
    for (const [more, re] of cases) expect(journalProblem(journal(more), `${String(more.id ?? '0a0b0c0d')}.json`.replace('0a0b0c0e', '0a0b0c0d'), bounds), JSON.stringify(more)).toMatch(re);
    // A step's error may hold a command's stderr over several lines.
    expect(journalProblem(journal({ steps: [{ spec: steps[0]!.spec, state: 'undo-failed', error: 'ip: one\ntwo' }] }), '0a0b0c0d.json', bounds)).toBeUndefined();
  });
});

describe('records', () => {
  it('a record as attach writes it passes (with what its steps saved)', () => {
    expect(recordProblem(record({}, { 'ctr.default4': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }], 'host.sysctl.ipv4.arp_ignore': '1' }), 'abcd1234.json', bounds)).toBeUndefined();
    const seen = {
      link: { ifname: 'nic1', ifindex: 7, address: '52:54:00:12:34:56', mtu: 1500, flags: ['UP'] } as never,
      host: { ...input.host }, hostState: { links: [], routes4: [], routes6: [] } as never, ctrState: { links: [], routes4: [], routes6: [] } as never,
    };
    const fresh = attachInput('00000042', input.request, input.target, seen);
    expect(recordProblem({ schema: 2, kind: 'attachment', id: '00000042', createdAt: '', input: fresh, saved: {} }, '00000042.json', bounds)).toBeUndefined();
  });

  it('refuses a record edited into something hostnic would not write', () => {
    const cases: [AttachmentRecord, RegExp][] = [
      [record({ host: { ...input.host, name: 'eth0 up' } }), /^input\.host\.name: .* not a valid interface name$/],
      [record({ host: { ...input.host, mtu: 1e6 } }), /^input\.host\.mtu: /],
      [record({ host: { ...input.host, sysctls: [{ key: 'kernel/core_pattern', value: '|/x', defaultValue: '' }] } }), /^plan step host\.sysctl\.\S+ \(sysctl\.set\)\.params\.key: .* is not a per-interface sysctl/],
      [record({ host: { ...input.host, routes: [{ family: 4, args: ['10.0.0.0/8', 'dev', 'nic1 reboot'] }] } }), /^plan step host\.routes4 \(route\.add\)\.params\.routes\[0\]\[2\]: /],
      [record({ host: { ...input.host, addrs: [['10.0.0.1/24', 'up']] } }), /not an address argument/],
      [record({ target: { ...input.target, nsPath: '/proc/42/../1/ns/net' } }), /^input\.target\.nsPath: /],
      [record({ tmpNs: 'init' }), /^input\.tmpNs: /],
      [record({ id: 'ffff' }), /^input\.id: /],
      [record({ ctrDefaults: { 4: [{ dst: 'default', gateway: 'x', dev: 'eth0' }], 6: [] } }), /previous\[0\]\.gateway/],
      [record({}, { 'ctr.default4': 'x' }), /\(route\.default\)\.saved: not a list/],
      [record({}, { planted: 1 }), /^saved\.planted: no step of this attachment has that id$/],
      [{ ...record(), id: '../x' } as AttachmentRecord, /^id: /],
    ];
    cases.forEach(([r, re], n) => expect(`${n}: ${String(recordProblem(r, `${r.id}.json`, bounds))}`).toMatch(new RegExp(`^${n}: ${re.source.startsWith('^') ? re.source.slice(1) : `.*${re.source}`}`)));
    expect(recordProblem(record(), 'other.json', bounds)).toMatch(/is not the file's own name/);
  });

  it('tagDisagreements: what the record says against what the tag carries', () => {
    const rec = record({}, { 'ctr.default4': [{ dst: 'default', gateway: '172.17.0.1', dev: 'eth0' }] });
    const tag = decodeTag('hostnic:1/id=abcd1234/n=nic1/m=52:54:00:12:34:56/t=1500/u=1/g4=172.17.0.1@eth0/a=cmFjayA3')!;
    expect(tagDisagreements(rec, tag)).toEqual([]);
    const edited = record({ host: { ...input.host, name: 'renamed0', mtu: 9000 } }, rec.saved);
    expect(tagDisagreements(edited, tag)).toEqual(['host name: the record says "renamed0", the tag "nic1"', 'MTU: the record says 9000, the tag 1500']);
    expect(tagDisagreements(rec, { ...tag, up: false, alias: undefined, gw4: '10.0.0.1@eth0' })).toEqual([
      'up: the record says yes, the tag no', 'alias: the record says "rack 7", the tag none', 'container\'s previous IPv4 default route: the record says "172.17.0.1@eth0", the tag "10.0.0.1@eth0"',
    ]);
  });
});
