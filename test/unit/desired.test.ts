/**
 * The desired-state file: the loader (desired/parse.ts) and the shipped JSON
 * Schema judged on the same fixtures, so they cannot drift apart; the
 * shipped schema file is the generated one; edits keep comments and order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { removeEntries, upsertEntry } from '../../src/desired/edit.js';
import { recordNamed, recordWanted, sameRequest, type AttachmentRecord } from '../../src/records.js';
import { parseDesiredText } from '../../src/desired/parse.js';
import { jsonSchema } from '../../src/desired/schema.js';
import { parseAttachRequest } from '../../src/request/parse.js';

const REPO = join(import.meta.dirname, '..', '..');

/** The README's example, as it is in README.md (between the markers). */
function readmeExample(): string {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const m = /<!-- desired-example -->\s*```yaml\n([\s\S]*?)```/.exec(readme);
  if (!m) throw new Error('README.md has no <!-- desired-example --> yaml block');
  return m[1]!;
}

const GOOD: Record<string, string> = {
  'empty file': '',
  'no entries': 'attachments:\n',
  'bare name, name NIC': 'attachments:\n  - container: web\n    nic: eth1\n',
  'a PCI domain over four digits (Intel VMD)': 'attachments:\n  - container: web\n    nic: pci:10000:e1:00.0\n',
  'netns, pci, mac, IPv6, routes': [
    'attachments:',
    '  - container: netns:blue',
    '    nic: pci:0000:00:05.0',
    '    addresses: [192.168.1.4/24@192.168.1.1, "fd00:1::4/64@fd00:1::1"]',
    '    mac: 02:aa:bb:cc:dd:04',
    '    mtu: 1400',
    '    routes: [10.0.0.0/8@192.168.1.254, default@fd00:1::1]',
    '  - container: containerd:k8s.io/abc',
    '    nic: mac:52:54:00:aa:00:02',
  ].join('\n').replace('default@fd00:1::1', '"fd00:2::/64@fd00:1::1"'),
  'macvlan children: two containers share a parent': [
    'attachments:',
    '  - container: docker:web',
    '    nic: eth0',
    '    macvlan: true',
    '    addresses: [192.168.1.21/24@192.168.1.1]',
    '  - container: docker:db',
    '    nic: eth0',
    '    macvlan: private',
  ].join('\n'),
  'dhcp beside a static IPv6 address': 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [dhcp, "fd00:1::4/64@fd00:1::1"]\n',
  'dhcp with its own timeout': 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [dhcp]\n    dhcp-timeout: 30\n',
};

/** Every kind of bad file, with the line the loader names, and whether a JSON Schema can tell. */
const BAD: { name: string; text: string; line: number; message: RegExp; schema: boolean }[] = [
  { name: 'YAML error', text: 'attachments:\n  - container: web\n\tnic: eth1\n', line: 3, message: /not valid YAML/, schema: false },
  { name: 'duplicate key', text: 'attachments:\n  - container: web\n    nic: eth1\n    nic: eth2\n', line: 4, message: /not valid YAML.*unique/i, schema: false },
  { name: 'unknown top key', text: 'attachment:\n  - container: web\n', line: 1, message: /unknown key "attachment"/, schema: true },
  { name: 'unknown entry key', text: 'attachments:\n  - container: web\n    nic: eth1\n    adresses: [1.2.3.4/24]\n', line: 4, message: /unknown key "adresses"/, schema: true },
  { name: 'no nic', text: 'attachments:\n  - container: web\n', line: 2, message: /no nic/, schema: true },
  { name: 'netns name with a space', text: 'attachments:\n  - container: netns:lab ns\n    nic: eth1\n', line: 2, message: /printable ASCII without spaces/, schema: true },
  { name: 'bad address', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses:\n      - 192.168.1.4/24\n      - 300.1.1.1/24\n', line: 6, message: /invalid address "300\.1\.1\.1\/24"/, schema: true },
  { name: 'gateway outside the subnet', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [192.168.1.4/24@10.0.0.1]\n', line: 4, message: /10\.0\.0\.1/, schema: false },
  { name: 'bad route', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [192.168.1.4/24]\n    routes: [10.0.0.1/8@192.168.1.254]\n', line: 5, message: /invalid route.*host bits/, schema: false },
  { name: 'route without prefix', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [192.168.1.4/24]\n    routes: [10.0.0.1]\n', line: 5, message: /invalid route/, schema: true },
  { name: 'bad MAC', text: 'attachments:\n  - container: web\n    nic: eth1\n    mac: 52:54:00:aa:00\n', line: 4, message: /invalid MAC/, schema: true },
  { name: 'MTU too small', text: 'attachments:\n  - container: web\n    nic: eth1\n    mtu: 20\n', line: 4, message: /MTU/, schema: true },
  { name: 'MTU a string', text: 'attachments:\n  - container: web\n    nic: eth1\n    mtu: big\n', line: 4, message: /mtu: must be a number/, schema: true },
  { name: 'name lo', text: 'attachments:\n  - container: web\n    nic: eth1\n    name: lo\n', line: 4, message: /"lo"/, schema: true },
  { name: 'NIC in two entries', text: 'attachments:\n  - container: web\n    nic: eth1\n  - container: db\n    nic: eth1\n', line: 4, message: /NIC eth1 is also moved by the entry at line 2/, schema: false },
  { name: 'macvlan passthru', text: 'attachments:\n  - container: web\n    nic: eth0\n    macvlan: passthru\n', line: 4, message: /passthru is not supported/, schema: true },
  { name: 'macvlan not a mode', text: 'attachments:\n  - container: web\n    nic: eth0\n    macvlan: [bridge]\n', line: 4, message: /macvlan: must be/, schema: true },
  { name: 'two macvlan children of one parent in one container', text: 'attachments:\n  - container: web\n    nic: eth0\n    macvlan: true\n  - container: web\n    nic: eth0\n    macvlan: vepa\n', line: 5, message: /one child per container and parent/, schema: false },
  { name: 'a macvlan parent moved by another entry', text: 'attachments:\n  - container: web\n    nic: eth0\n    macvlan: true\n  - container: db\n    nic: eth0\n', line: 5, message: /a parent stays in the host/, schema: false },
  { name: 'pid target', text: 'attachments:\n  - container: pid:4242\n    nic: eth1\n', line: 2, message: /a pid names a process/, schema: true },
  { name: '/proc target', text: 'attachments:\n  - container: /proc/4242/ns/net\n    nic: eth1\n', line: 2, message: /a path names/, schema: true },
  { name: 'addresses not a list', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: 192.168.1.4/24\n', line: 4, message: /addresses: must be a list/, schema: true },
  { name: 'dhcp twice', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [dhcp, dhcp]\n', line: 2, message: /"dhcp" is given 2 times/, schema: false },
  { name: 'dhcp@GW', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [dhcp@192.168.1.1]\n', line: 4, message: /write dhcp alone/, schema: true },
  { name: 'dhcp-timeout without dhcp', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [192.168.1.4/24]\n    dhcp-timeout: 30\n', line: 5, message: /dhcp-timeout: is given without "dhcp"/, schema: false },
  { name: 'dhcp-timeout out of range', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [dhcp]\n    dhcp-timeout: 0\n', line: 5, message: /dhcp-timeout: must be a whole number of seconds, 1\.\.3600/, schema: true },
  { name: 'dhcp-timeout a string', text: 'attachments:\n  - container: web\n    nic: eth1\n    addresses: [dhcp]\n    dhcp-timeout: 10s\n', line: 5, message: /dhcp-timeout: must be a whole number/, schema: true },
  { name: 'entry not a mapping', text: 'attachments:\n  - web eth1\n', line: 2, message: /must be a mapping/, schema: true },
];

const ajv = new Ajv({ allErrors: true });
const validate = ajv.compile(jsonSchema());
const schemaAccepts = (text: string): boolean => validate(parseYaml(text) ?? {}) as boolean;

describe('desired-state file: loader and JSON Schema on the same fixtures', () => {
  it('the README example is accepted by both', () => {
    const text = readmeExample();
    expect(parseDesiredText(text, 'README').entries.length).toBeGreaterThan(0);
    expect(schemaAccepts(text), JSON.stringify(validate.errors)).toBe(true);
  });

  for (const [name, text] of Object.entries(GOOD)) {
    it(`accepts: ${name}`, () => {
      expect(() => parseDesiredText(text, 'F')).not.toThrow();
      expect(schemaAccepts(text), JSON.stringify(validate.errors)).toBe(true);
    });
  }

  for (const b of BAD) {
    it(`refuses: ${b.name} (at its line, exit 2)`, () => {
      let err: unknown;
      try { parseDesiredText(b.text, '/etc/hostnic/attachments.yaml'); } catch (e) { err = e; }
      expect(err, 'the loader accepted it').toBeInstanceOf(Error);
      const e = err as Error & { exitCode?: number };
      expect(e.exitCode).toBe(2);
      expect(e.message).toMatch(new RegExp(`^/etc/hostnic/attachments\\.yaml:${b.line}: `));
      expect(e.message).toMatch(b.message);
      expect(e.message).not.toContain('\n');
      // What a JSON Schema can express, it refuses too; the rest (YAML syntax, cross-entry and subnet checks) is the loader's.
      if (b.schema) expect(schemaAccepts(b.text)).toBe(false);
    });
  }

  it('the schema shipped in the package is the one generated from src/desired/schema.ts', () => {
    const shipped: unknown = JSON.parse(readFileSync(join(REPO, 'schema', 'attachments.schema.json'), 'utf8'));
    expect(shipped, 'regenerate it: npm run build && bin/hostnic schema > schema/attachments.schema.json').toEqual(jsonSchema());
  });
});

describe('desired-state file edits (attach --persist, detach)', () => {
  const text = [
    '# my NICs',
    'attachments:',
    '  # the web server',
    '  - container: docker:nginx   # public',
    '    nic: mac:52:54:00:aa:00:01',
    '    addresses: [192.168.1.4/24@192.168.1.1]',
    '    mtu: 1450',
    '  # the database',
    '  - container: netns:blue',
    '    nic: eth2',
    '',
  ].join('\n');
  const req = (o: Parameters<typeof parseAttachRequest>[0]) => parseAttachRequest(o);

  it('replaces the entry of the same container and NIC in place, keeping comments and order', () => {
    const out = upsertEntry(text, 'F', 'DOCKER:nginx', 'MAC:52-54-00-AA-00-01',
      req({ container: 'docker:nginx', nic: 'mac:52:54:00:aa:00:01', addresses: ['192.168.1.5/24@192.168.1.1'], name: 'cloud0' }));
    expect(out).toContain('# my NICs');
    expect(out).toContain('# the web server');
    expect(out).toContain('# public');
    expect(out).toContain('# the database');
    expect(out).not.toContain('mtu: 1450');
    const entries = parseDesiredText(out, 'F').entries;
    expect(entries.map((e) => e.container)).toEqual(['docker:nginx', 'netns:blue']);
    expect(entries[0]!.request.addresses.map((a) => a.cidr)).toEqual(['192.168.1.5/24']);
    expect(entries[0]!.request.name).toBe('cloud0');
  });

  it('appends a new entry last; a new file gets a header', () => {
    const r = req({ container: 'web', nic: 'eth3', addresses: ['10.1.1.1/24'], routes: ['10.2.0.0/16@10.1.1.254'] });
    const out = upsertEntry(text, 'F', 'web', 'eth3', r);
    expect(parseDesiredText(out, 'F').entries.map((e) => e.container)).toEqual(['docker:nginx', 'netns:blue', 'web']);
    expect(out).toContain('routes: [10.2.0.0/16@10.1.1.254]');
    const fresh = upsertEntry(null, 'F', 'web', 'eth3', r);
    expect(fresh).toMatch(/^# hostnic/);
    expect(parseDesiredText(fresh, 'F').entries).toHaveLength(1);
  });

  it('keeps dhcp (and macvlan): the entry read back asks for what was attached (sameRequest), so apply finds it in place', () => {
    const r = req({ container: 'web', nic: 'eth3', addresses: ['dhcp', 'fd00:1::4/64'], macvlan: true });
    const out = upsertEntry(null, 'F', 'web', 'eth3', r);
    expect(out).toContain('addresses: [dhcp, fd00:1::4/64]');
    const [back] = parseDesiredText(out, 'F').entries;
    expect(back!.request.dhcp).toBeDefined();
    expect(sameRequest(r, back!.request, 'eth1')).toBe(true);
  });

  it('dhcp-timeout: the value in the file is the request timeout, and an attach --persist with one other than the default writes it', () => {
    const [e] = parseDesiredText(GOOD['dhcp with its own timeout']!, 'F').entries;
    expect(e!.request.dhcp).toEqual({ timeout: 30 });
    const r = req({ container: 'web', nic: 'eth3', addresses: ['dhcp'], dhcpTimeout: '45' });
    const out = upsertEntry(null, 'F', 'web', 'eth3', r);
    expect(out).toContain('dhcp-timeout: 45');
    expect(parseDesiredText(out, 'F').entries[0]!.request.dhcp).toEqual({ timeout: 45 });
    // The default is not written; a timeout that changed is not a change of the attachment (apply leaves it in place).
    expect(upsertEntry(null, 'F', 'web', 'eth3', req({ container: 'web', nic: 'eth3', addresses: ['dhcp'] }))).not.toContain('dhcp-timeout');
    expect(sameRequest(r, e!.request, 'eth1')).toBe(true);
  });

  it('refuses an edit that would put one NIC in two entries', () => {
    expect(() => upsertEntry(text, 'F', 'docker:other', 'eth2', req({ container: 'docker:other', nic: 'eth2', addresses: [] })))
      .toThrow(/F:\d+: NIC eth2 is also moved/);
  });

  it('removes an entry and keeps the rest with its comments', () => {
    const { text: out, removed } = removeEntries(text, 'F', (e) => e.container === 'docker:nginx');
    expect(removed).toHaveLength(1);
    expect(out).toContain('# my NICs');
    expect(out).toContain('# the database');
    expect(parseDesiredText(out, 'F').entries.map((e) => e.container)).toEqual(['netns:blue']);
  });
});

describe('which record an entry stands for', () => {
  // On a host whose NICs are ethN: host eth2 went in as eth1, host eth1 as eth2.
  const rec = (host: string, ctrName: string, mac: string): AttachmentRecord => ({
    input: { host: { name: host, mac }, ctrName, request: parseAttachRequest({ container: 'netns:blue', nic: host, addresses: [] }) },
  }) as unknown as AttachmentRecord;
  const eth2 = rec('eth2', 'eth1', '02:00:00:00:00:02');
  const eth1 = rec('eth1', 'eth2', '02:00:00:00:00:01');
  const entry = (nic: string) => parseAttachRequest({ container: 'netns:blue', nic, addresses: [] });

  it('an entry names a NIC by its host identity only, never by the name it has in its container', () => {
    expect([eth2, eth1].filter((r) => recordWanted(r, entry('eth1')))).toEqual([eth1]);
    expect([eth2, eth1].filter((r) => recordWanted(r, entry('mac:02:00:00:00:00:02')))).toEqual([eth2]);
  });

  it('detach falls back on the name inside the container (recordNamed) when no NIC has it in the host', () => {
    expect(recordNamed(eth2, entry('eth1').nic)).toBe(true);
    expect(recordNamed(eth2, entry('eth2').nic)).toBe(true);
  });
});
