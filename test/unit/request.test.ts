import { describe, it, expect } from 'vitest';
import { UsageError } from '../../src/errors.js';
import {
  checkRoutes,
  parseAddress,
  parseAddresses,
  parseAttachRequest,
  parseMac,
  parseMtu,
  parseNicSelector,
  parseRoute,
  parseTarget,
  validateIfName,
  type AttachInput,
} from '../../src/request/parse.js';
import { CONTAINER_REF_MAX } from '../../src/request/target.js';
import { familyOf } from '../../src/request/types.js';
import { familyOf as kernelFamilyOf } from '../../src/kernel/ip.js';
import ipaddr from 'ipaddr.js';
import { resolveRuntimeTarget, type Runtime } from '../../src/runtime/index.js';
import { defaultStateDir } from '../../src/state.js';
import { defaultHostPaths } from '../../src/host/paths.js';

/** Run `fn`, expect a one-line exit-2 UsageError that names `offending`. */
function usageError(fn: () => unknown, offending: string, reason?: RegExp): UsageError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a UsageError naming ${offending}`).toBeInstanceOf(UsageError);
  const err = caught as UsageError;
  expect(err.exitCode).toBe(2);
  expect(err.message).not.toMatch(/[\r\n\u2028\u2029]/);
  expect(err.message).not.toMatch(/\.$/);
  // Lower-case start; acronyms (MAC, MTU, NIC) and addresses are fine.
  expect(err.message).toMatch(/^([a-z0-9]|MAC |MTU |NIC )/);
  expect(err.message).toContain(offending);
  if (reason) expect(err.message).toMatch(reason);
  if (err.hint !== undefined) expect(err.hint).not.toMatch(/[\r\n]/);
  return err;
}

/** A table row: the input, the text the message must contain (default: the input), a reason pattern. */
type Bad = [input: string, reason: RegExp, offending?: string];

function badTable(name: string, fn: (s: string) => unknown, rows: Bad[]): void {
  describe(`${name}: bad input`, () => {
    it.each(rows)('%j', (input, reason, offending) => {
      usageError(() => fn(input), offending ?? input, reason);
    });
  });
}

describe('parseAddress', () => {
  it('parses IPv4 with and without a gateway', () => {
    expect(parseAddress('192.168.1.4/24')).toEqual({ family: 4, address: '192.168.1.4', prefix: 24, cidr: '192.168.1.4/24' });
    expect(parseAddress('192.168.1.4/24@192.168.1.1')).toEqual({
      family: 4,
      address: '192.168.1.4',
      prefix: 24,
      cidr: '192.168.1.4/24',
      gateway: '192.168.1.1',
    });
    expect(parseAddress('192.168.1.4/24')).not.toHaveProperty('gateway');
  });

  it('allows the edge addresses of /31 and /32 subnets', () => {
    expect(parseAddress('10.0.0.0/31').address).toBe('10.0.0.0');
    expect(parseAddress('10.0.0.1/31@10.0.0.0').gateway).toBe('10.0.0.0');
    expect(parseAddress('10.0.0.5/32').cidr).toBe('10.0.0.5/32');
    expect(parseAddress('10.0.0.255/23').address).toBe('10.0.0.255');
  });

  it('allows IPv4 link-local, shared and documentation space', () => {
    expect(parseAddress('169.254.10.5/16').family).toBe(4);
    expect(parseAddress('100.64.0.1/10').family).toBe(4);
    expect(parseAddress('198.51.100.7/24@198.51.100.1').gateway).toBe('198.51.100.1');
  });

  it('canonicalizes IPv6 (compressed, lower case)', () => {
    expect(parseAddress('2001:DB8:0:0:0:0:0:5/64')).toEqual({
      family: 6,
      address: '2001:db8::5',
      prefix: 64,
      cidr: '2001:db8::5/64',
    });
    expect(parseAddress('2001:db8::5/64@2001:DB8::1').gateway).toBe('2001:db8::1');
    expect(parseAddress('fd00:0:0:1::a/64').address).toBe('fd00:0:0:1::a');
  });

  it('takes an IPv6 link-local gateway outside the subnet, even for a /128', () => {
    expect(parseAddress('2001:db8::5/64@FE80::1').gateway).toBe('fe80::1');
    expect(parseAddress('2001:db8::5/128@fe80::1').gateway).toBe('fe80::1');
  });

  it('allows an all-zero host part on an IPv6 /127 (RFC 6164)', () => {
    expect(parseAddress('2001:db8::/127').address).toBe('2001:db8::');
  });

  it('accepts a prefix written with a leading zero', () => {
    expect(parseAddress('10.0.0.5/08').prefix).toBe(8);
  });
});

badTable('parseAddress', parseAddress, [
  ['', /empty value/, '""'],
  ['192.168.1.300/24', /not an IPv4 or IPv6 address/],
  ['hello/24', /not an IPv4 or IPv6 address/],
  ['10.0.0.5', /missing \/prefix \(e\.g\. 10\.0\.0\.5\/24\)/],
  ['2001:db8::5', /missing \/prefix \(e\.g\. 2001:db8::5\/64\)/],
  ['10.0.0.5@10.0.0.1', /missing \/prefix/],
  ['10.0.0.5/', /empty prefix/],
  ['10.0.0.5/33', /out of range for IPv4 \(1\.\.32\)/],
  ['10.0.0.5/0', /out of range/],
  ['2001:db8::5/129', /out of range for IPv6 \(1\.\.128\)/],
  ['10.0.0.5/abc', /prefix "abc" is not a number/],
  ['10.0.0.5/-1', /not a number/],
  ['10.0.0.5/24/8', /more than one "\/"/],
  ['/24', /missing the address/],
  ['10.0.0.5/24@', /empty gateway/],
  ['10.0.0.5/24@10.0.0.1@10.0.0.2', /more than one "@"/],
  ['010.0.0.5/24', /leading zero/],
  ['10.1/16', /not an IPv4 or IPv6 address/],
  ['0x0a.0.0.1/8', /not an IPv4 or IPv6 address/],
  [' 10.0.0.5/24', /whitespace/],
  ['10.0.0.5/24\n', /not a number/, '"10.0.0.5/24\\n"'],
  ['10.0.0.0/24', /network address of 10\.0\.0\.0\/24/],
  ['10.0.0.255/24', /broadcast address of 10\.0\.0\.0\/24/],
  ['0.0.0.0/24', /unspecified/],
  ['0.1.2.3/8', /this network/],
  ['127.0.0.1/8', /loopback/],
  ['224.0.0.1/24', /multicast/],
  ['255.255.255.255/32', /limited broadcast/],
  ['240.0.0.1/8', /reserved/],
  ['::/64', /unspecified/],
  ['::1/128', /loopback/],
  ['ff02::1/64', /multicast/],
  ['fe80::5/64', /link-local/],
  ['FE80::5/64', /link-local/],
  ['::ffff:10.0.0.5/120', /IPv4-mapped/],
  ['::ffff:010.0.0.5/120', /not an IPv4 or IPv6 address/],
  ['2001:db8::/64', /subnet-router anycast/],
  ['fe80::1%eth0/64', /zone index/],
  ['[2001:db8::5]/64', /brackets/],
  ['2001:db8::5/64@10.0.0.1', /gateway 10\.0\.0\.1 is IPv4 but 2001:db8::5\/64 is IPv6/, '10.0.0.1'],
  ['10.0.0.5/24@2001:db8::1', /is IPv6 but/, '2001:db8::1'],
  ['10.0.0.5/24@10.0.0.5', /the address 10\.0\.0\.5\/24 itself/, '10.0.0.5'],
  ['10.0.0.5/32@10.0.0.1', /10\.0\.0\.5\/32 has no room for a gateway/, '10.0.0.1'],
  ['2001:db8::5/128@2001:db8::1', /has no room for a gateway/, '2001:db8::1'],
  ['192.168.1.4/24@10.0.0.1', /^gateway 10\.0\.0\.1 is outside 192\.168\.1\.4\/24$/, '10.0.0.1'],
  ['2001:db8::5/64@2001:db9::1', /is outside 2001:db8::5\/64/, '2001:db9::1'],
  ['10.0.0.5/24@10.0.0.0', /network address/, '10.0.0.0'],
  ['10.0.0.5/24@10.0.0.255', /broadcast address/, '10.0.0.255'],
  ['10.0.0.5/1@127.0.0.1', /loopback/, '127.0.0.1'],
  ['2001:db8::5/64@ff02::1', /multicast/, 'ff02::1'],
  ['10.0.0.5/24@10.0.0.300', /gateway "10\.0\.0\.300": not an IPv4 or IPv6 address/, '10.0.0.300'],
  ['2001:db8::5/64@fe80::1%eth0', /zone index/, 'fe80::1%eth0'],
]);

describe('parseAddress: error details', () => {
  it('explains an outside gateway with the subnet span', () => {
    const err = usageError(() => parseAddress('192.168.1.4/24@10.0.0.1'), '10.0.0.1');
    expect(err.hint).toBe('192.168.1.4/24 spans 192.168.1.0 to 192.168.1.255');
  });

  it('escapes control characters so the message stays one line', () => {
    const err = usageError(() => parseAddress('10.0.0.5\u001b[31m/24'), '\\u001b');
    expect(err.message).not.toContain('\u001b');
    usageError(() => parseAddress('10.0.0.5\u2028/24'), '\\u2028');
  });

  it('cuts a huge value in the message', () => {
    const huge = '1'.repeat(5000) + '/24';
    const err = usageError(() => parseAddress(huge), '(5003 characters)', /not an IPv4 or IPv6 address/);
    expect(err.message.length).toBeLessThan(400);
    usageError(() => parseTarget('/' + 'x/'.repeat(3000) + 'y'), '(6002 characters)', /longer than 4095 bytes/);
  });
});

describe('parseAddresses', () => {
  it('parses several, one gateway per family', () => {
    const specs = parseAddresses(['10.0.0.5/24@10.0.0.1', '10.1.0.5/16', '2001:db8::5/64@fe80::1']);
    expect(specs.map((s) => s.cidr)).toEqual(['10.0.0.5/24', '10.1.0.5/16', '2001:db8::5/64']);
    expect(specs.map((s) => s.gateway)).toEqual(['10.0.0.1', undefined, 'fe80::1']);
  });

  it('accepts none', () => {
    expect(parseAddresses([])).toEqual([]);
  });

  it('accepts two addresses in one subnet', () => {
    expect(parseAddresses(['10.0.0.5/24', '10.0.0.6/24'])).toHaveLength(2);
  });

  it('reports the first bad address', () => {
    usageError(() => parseAddresses(['10.0.0.5/24', '10.0.0.6']), '10.0.0.6', /missing \/prefix/);
  });
});

describe('parseAddresses: bad combinations', () => {
  it.each([
    [['10.0.0.5/24', '10.0.0.5/16'], /address 10\.0\.0\.5 is given twice \(10\.0\.0\.5\/24 and 10\.0\.0\.5\/16\)/, '10.0.0.5'],
    [['2001:db8::5/64', '2001:DB8:0::5/64'], /given twice/, '2001:db8::5'],
    [
      ['10.0.0.5/24@10.0.0.1', '10.1.0.5/16@10.1.0.1'],
      /two IPv4 gateways: 10\.0\.0\.1 \(on 10\.0\.0\.5\/24\) and 10\.1\.0\.1 \(on 10\.1\.0\.5\/16\)/,
      '10.1.0.1',
    ],
    [['10.0.0.5/24@10.0.0.1', '10.0.0.6/24@10.0.0.1'], /two IPv4 gateways/, '10.0.0.6/24'],
    [['2001:db8::5/64@fe80::1', '2001:db8:1::5/64@fe80::2'], /two IPv6 gateways: fe80::1 .* and fe80::2/, 'fe80::2'],
    [['10.0.0.5/24@10.0.0.6', '10.0.0.6/24'], /gateway 10\.0\.0\.6 .* is one of the addresses being attached/, '10.0.0.6'],
  ] as [string[], RegExp, string][])('%j', (list, reason, offending) => {
    usageError(() => parseAddresses(list), offending, reason);
  });
});

describe('parseMac', () => {
  it('normalizes to lower-case colon form', () => {
    expect(parseMac('52:54:00:12:34:56')).toBe('52:54:00:12:34:56');
    expect(parseMac('52-54-00-AB-cd-EF')).toBe('52:54:00:ab:cd:ef');
    expect(parseMac('AA:BB:CC:DD:EE:FE')).toBe('aa:bb:cc:dd:ee:fe');
    expect(parseMac('02:00:00:00:00:01')).toBe('02:00:00:00:00:01');
  });
});

badTable('parseMac', parseMac, [
  ['', /empty value/, '""'],
  ['52:54:00:12:34', /six two-digit hex octets/],
  ['52:54:00:12:34:56:78', /six two-digit hex octets/],
  ['52:54:00:12:34:5g', /six two-digit hex octets/],
  ['52:54:00:12:34:5', /six two-digit hex octets/],
  ['52:54:00:12:34:567', /six two-digit hex octets/],
  ['52-54:00:12:34:56', /six two-digit hex octets/],
  ['5254.0012.3456', /six two-digit hex octets/],
  ['525400123456', /six two-digit hex octets/],
  [' 52:54:00:12:34:56', /six two-digit hex octets/],
  ['00:00:00:00:00:00', /^MAC 00:00:00:00:00:00 is all zeros$/],
  ['00-00-00-00-00-00', /all zeros/],
  ['ff:ff:ff:ff:ff:ff', /broadcast/],
  ['FF-FF-FF-FF-FF-FF', /broadcast/],
  ['01:00:5e:00:00:01', /^MAC 01:00:5e:00:00:01 is a multicast address/],
  ['33:33:00:00:00:01', /multicast/],
  ['03:00:00:00:00:01', /multicast/],
]);

describe('validateIfName', () => {
  it('accepts Linux interface names', () => {
    for (const name of ['eth1', 'a', 'eth0.100', 'veth-a_b', 'abcdefghijklmno', 'Eth1', 'en.p0s5']) {
      expect(validateIfName(name)).toBe(name);
    }
  });

  it('names the value in the message as the caller asks', () => {
    usageError(() => validateIfName('a/b', 'container-side name'), 'invalid container-side name "a/b"');
  });
});

badTable('validateIfName', (s) => validateIfName(s), [
  ['', /empty value/, '""'],
  ['.', /"\." and "\.\." are not allowed/],
  ['..', /not allowed/],
  ['eth 1', /whitespace/],
  ['eth\t1', /whitespace/, '"eth\\t1"'],
  ['eth1\n', /whitespace/, '"eth1\\n"'],
  ['a/b', /contains "\/"/],
  ['eth0:1', /contains ":"/],
  ['eth%d', /contains "%"/],
  ['-eth1', /starts with "-"/],
  ['abcdefghijklmnop', /16 characters long, the kernel allows at most 15/],
  ['ethé', /printable ASCII/],
  ['eth\u001b', /printable ASCII/, '"eth\\u001b"'],
  ['eth\u007f', /printable ASCII/, '"eth\\u007f"'],
  ['all', /reserved/],
  ['default', /reserved/],
]);

describe('parseMtu', () => {
  it('accepts whole numbers from 68 to 65535, as text or number', () => {
    expect(parseMtu('1500')).toBe(1500);
    expect(parseMtu(9000)).toBe(9000);
    expect(parseMtu('68')).toBe(68);
    expect(parseMtu('65535')).toBe(65535);
    expect(parseMtu('01500')).toBe(1500);
  });

  it.each([
    [1500.5, /not a whole number/, '1500.5'],
    [Number.NaN, /not a whole number/, 'NaN'],
    [0, /out of range \(68\.\.65535\)/, '0'],
    [70000, /out of range/, '70000'],
  ] as [number, RegExp, string][])('rejects the number %s', (n, reason, offending) => {
    usageError(() => parseMtu(n), offending, reason);
  });
});

badTable('parseMtu', parseMtu, [
  ['', /empty value/, '""'],
  ['67', /out of range \(68\.\.65535\)/],
  ['65536', /out of range/],
  ['99999999999999999999', /out of range/],
  ['1500abc', /not a whole number/],
  ['-1500', /not a whole number/],
  ['+1500', /not a whole number/],
  ['1500.0', /not a whole number/],
  ['0x5dc', /not a whole number/],
  [' 1500', /not a whole number/],
  ['1e3', /not a whole number/],
  ['jumbo', /not a whole number/],
]);

describe('parseRoute', () => {
  it('parses a network with and without a next hop', () => {
    expect(parseRoute('10.1.0.0/16@192.168.1.1')).toEqual({ family: 4, dst: '10.1.0.0/16', via: '192.168.1.1' });
    expect(parseRoute('10.1.0.0/16')).toEqual({ family: 4, dst: '10.1.0.0/16' });
    expect(parseRoute('10.1.0.0/16')).not.toHaveProperty('via');
    expect(parseRoute('10.0.0.1/32')).toEqual({ family: 4, dst: '10.0.0.1/32' });
    expect(parseRoute('224.0.0.0/4')).toEqual({ family: 4, dst: '224.0.0.0/4' });
  });

  it('canonicalizes IPv6', () => {
    expect(parseRoute('2001:DB8:1:0::/48@2001:db8::1')).toEqual({ family: 6, dst: '2001:db8:1::/48', via: '2001:db8::1' });
    expect(parseRoute('2001:db8:1::/64@FE80::1')).toEqual({ family: 6, dst: '2001:db8:1::/64', via: 'fe80::1' });
  });

  it('parses default routes, taking the family from the next hop', () => {
    expect(parseRoute('default@10.0.0.1')).toEqual({ family: 4, dst: 'default', via: '10.0.0.1' });
    expect(parseRoute('default@fe80::1')).toEqual({ family: 6, dst: 'default', via: 'fe80::1' });
    expect(parseRoute('0.0.0.0/0@10.0.0.1')).toEqual({ family: 4, dst: 'default', via: '10.0.0.1' });
    expect(parseRoute('::/0@2001:db8::1')).toEqual({ family: 6, dst: 'default', via: '2001:db8::1' });
  });
});

badTable('parseRoute', parseRoute, [
  ['', /empty value/, '""'],
  ['default', /a default route needs @VIA/],
  ['10.1.2.3/24@10.0.0.1', /10\.1\.2\.3\/24 has host bits set \(the network is 10\.1\.2\.0\/24\)/],
  ['10.1.2.3/24', /host bits set/],
  ['2001:db8::1/64', /host bits set \(the network is 2001:db8::\/64\)/],
  ['0.0.0.1/0@10.0.0.1', /host bits set/],
  ['10.1.0.0', /missing \/prefix on the destination \(e\.g\. 10\.1\.0\.0\/32 for one host\)/],
  ['10.1.0.0/33', /out of range for IPv4 \(0\.\.32\)/],
  ['10.1.0.0/x', /not a number/],
  ['10.1.0.0/16/8', /more than one "\/"/],
  ['10.1.0.300/16', /not an IPv4 or IPv6 address/],
  ['10.1.0.0/16@', /empty next hop/],
  ['@10.0.0.1', /missing the destination/],
  ['10.1.0.0/16@a@b', /more than one "@"/],
  ['10.1.0.0/16@2001:db8::1', /next hop 2001:db8::1 is IPv6 but 10\.1\.0\.0\/16 is IPv4/],
  ['10.1.0.0/16@10.0.0.300', /next hop "10\.0\.0\.300": not an IPv4 or IPv6 address/],
  ['10.1.0.0/16@127.0.0.1', /loopback/],
  ['10.1.0.0/16@224.0.0.1', /multicast/],
  ['default@0.0.0.0', /unspecified/],
  ['default@::ffff:10.0.0.1', /IPv4-mapped/],
  ['127.0.0.0/8', /loopback/],
  ['defualt@10.0.0.1', /not an IPv4 or IPv6 address/],
]);

describe('checkRoutes', () => {
  const addresses = parseAddresses(['10.0.0.5/24', '2001:db8::5/64']);
  const routes = (...list: string[]) => list.map(parseRoute);

  it('accepts next hops on an attached subnet, IPv6 link-local, and device routes', () => {
    expect(() =>
      checkRoutes(
        routes('10.1.0.0/16@10.0.0.1', '10.2.0.0/16', 'default@10.0.0.1', '2001:db8:1::/48@fe80::1', 'default@2001:db8::1'),
        addresses,
      ),
    ).not.toThrow();
    expect(() => checkRoutes([], [])).not.toThrow();
  });

  it('accepts a next hop made on-link by a device route (the /32 cloud pattern)', () => {
    const slash32 = parseAddresses(['10.128.0.5/32']);
    expect(() => checkRoutes(routes('10.128.0.1/32', 'default@10.128.0.1'), slash32)).not.toThrow();
  });

  it.each([
    [['10.1.0.0/16@10.9.0.1'], /next hop 10\.9\.0\.1 is outside every attached IPv4 subnet \(10\.0\.0\.5\/24\)/, '10.9.0.1'],
    [['10.1.0.0/16@10.0.0.5'], /next hop 10\.0\.0\.5 is one of the addresses being attached/, '10.0.0.5'],
    [['10.1.0.0/16@10.0.0.0'], /network address of 10\.0\.0\.5\/24/, '10.0.0.0'],
    [['10.1.0.0/16@10.0.0.255'], /broadcast address/, '10.0.0.255'],
    [['2001:db8:1::/48@2001:db9::1'], /outside every attached IPv6 subnet/, '2001:db9::1'],
    [['10.1.0.0/16@10.0.0.1', '10.1.0.0/16@10.0.0.2'], /two routes to 10\.1\.0\.0\/16/, '10.1.0.0/16@10.0.0.2'],
    [['default@10.0.0.1', '0.0.0.0/0@10.0.0.2'], /two routes to default/, 'default@10.0.0.2'],
    [['10.0.0.0/24'], /duplicates the subnet route of 10\.0\.0\.5\/24/, '10.0.0.0/24'],
  ] as [string[], RegExp, string][])('rejects %j', (list, reason, offending) => {
    usageError(() => checkRoutes(routes(...list), addresses), offending, reason);
  });

  it('rejects a route of a family with no address', () => {
    usageError(
      () => checkRoutes(routes('2001:db8:1::/48@fe80::1'), parseAddresses(['10.0.0.5/24'])),
      '2001:db8:1::/48@fe80::1',
      /is IPv6, but no IPv6 address is being attached/,
    );
    usageError(() => checkRoutes(routes('10.1.0.0/16'), []), '10.1.0.0/16', /no IPv4 address/);
  });

  it('rejects a default route when an address already sets that default', () => {
    usageError(
      () => checkRoutes(routes('default@10.0.0.2'), parseAddresses(['10.0.0.5/24@10.0.0.1'])),
      'default@10.0.0.2',
      /gateway 10\.0\.0\.1 on 10\.0\.0\.5\/24 both set the IPv4 default route/,
    );
  });
});

describe('parseTarget', () => {
  it('parses every form', () => {
    expect(parseTarget('pid:1234')).toEqual({ kind: 'pid', pid: 1234 });
    expect(parseTarget('PID:1')).toEqual({ kind: 'pid', pid: 1 });
    expect(parseTarget('pid:4194304')).toEqual({ kind: 'pid', pid: 4194304 });
    expect(parseTarget('netns:blue')).toEqual({ kind: 'netns', name: 'blue' });
    expect(parseTarget('netns:cni-1b2c.x')).toEqual({ kind: 'netns', name: 'cni-1b2c.x' });
    expect(parseTarget('/proc/1234/ns/net')).toEqual({ kind: 'path', path: '/proc/1234/ns/net' });
    expect(parseTarget('/run/docker/netns/1a2b3c')).toEqual({ kind: 'path', path: '/run/docker/netns/1a2b3c' });
    expect(parseTarget('docker:web')).toEqual({ kind: 'docker', ref: 'web' });
    expect(parseTarget('Docker:web')).toEqual({ kind: 'docker', ref: 'web' });
    expect(parseTarget('docker:' + 'ab12'.repeat(16))).toEqual({ kind: 'docker', ref: 'ab12'.repeat(16) });
    expect(parseTarget('podman:db_1.x-y')).toEqual({ kind: 'podman', ref: 'db_1.x-y' });
    expect(parseTarget('containerd:abc')).toEqual({ kind: 'containerd', ref: 'abc' });
    expect(parseTarget('containerd:k8s.io/abc-123')).toEqual({ kind: 'containerd', namespace: 'k8s.io', ref: 'abc-123' });
    expect(parseTarget('web-1')).toEqual({ kind: 'name', name: 'web-1' });
    expect(parseTarget('nginx.1')).toEqual({ kind: 'name', name: 'nginx.1' });
    expect(parseTarget('1234')).toEqual({ kind: 'name', name: '1234' });
  });

  it('lists the known forms for an unknown scheme', () => {
    const err = usageError(() => parseTarget('lxc:foo'), 'lxc:foo');
    for (const form of ['pid:', 'netns:', 'docker:', 'podman:', 'containerd:']) expect(err.message).toContain(form);
  });
});

badTable('parseTarget', parseTarget, [
  ['', /^target is empty$/, 'target'],
  ['pid:', /^target "pid:" has an empty PID$/],
  ['pid:0', /positive decimal integer/],
  ['pid:-1', /positive decimal integer/],
  ['pid:+5', /positive decimal integer/],
  ['pid: 5', /positive decimal integer/],
  ['pid:12a', /positive decimal integer/],
  ['pid:0x10', /positive decimal integer/],
  ['pid:012', /positive decimal integer/],
  ['pid:4194305', /above the kernel's limit \(4194304\)/],
  ['pid:99999999999999999999', /above the kernel's limit/],
  ['netns:', /has an empty namespace name/],
  ['netns:a/b', /cannot contain "\/"/],
  ['netns:.', /not namespace names/],
  ['netns:..', /not namespace names/],
  ['netns:a\nb', /control character/, '"netns:a\\nb"'],
  ['netns:' + 'x'.repeat(256), /longer than 255 bytes/],
  // What the journal could not hold as one argument: refused here (exit 2), not an internal error later.
  ['netns:lab ns', /printable ASCII without spaces/],
  ['netns:a#b', /printable ASCII without spaces/],
  ['netns:caf\u00e9', /printable ASCII without spaces/],
  ['/run/netns/lab ns', /a namespace path of printable ASCII/],
  ['/', /root directory/],
  ['/proc/1/ns/net/', /not in normal form \(did you mean "\/proc\/1\/ns\/net"\?\)/],
  ['/proc//1/ns/net', /not in normal form/],
  ['/proc/./1/ns/net', /not in normal form/],
  ['/run/netns/../x', /not in normal form \(did you mean "\/run\/x"\?\)/],
  ['/proc/1/ns/net\n', /control character/, '"/proc/1/ns/net\\n"'],
  ['proc/1/ns/net', /must be absolute/],
  ['./ns', /must be absolute/],
  ['a\0b', /NUL/, '"a\\u0000b"'],
  ['docker:', /has an empty container name/],
  ['docker:/web', /must start with a letter or digit/],
  ['docker:web/1', /may only contain/],
  ['docker:-web', /must start with a letter or digit/],
  ['docker:we b', /may only contain/],
  ['docker:' + 'a'.repeat(256), /longer than 255 characters/],
  ['a'.repeat(256), /the container name is longer than 255 characters/],
  ['podman:', /has an empty container name/],
  ['podman:db!', /may only contain/],
  ['podman:' + 'a'.repeat(256), /longer than 255 characters/],
  ['containerd:', /has an empty container id/],
  ['containerd:/abc', /has an empty containerd namespace/],
  ['containerd:ns/', /has an empty container id/],
  ['containerd:a/b/c', /at most one "\/"/],
  ['containerd:a..b', /containerd container id/],
  ['containerd:-ns/abc', /containerd namespace/],
  ['containerd:' + 'a'.repeat(77), /longer than 76/],
  ['lxc:foo', /unknown target "lxc:foo": use pid:PID/],
  ['http://example', /unknown target/],
  ['-web', /must start with a letter or digit/],
  ['_web', /must start with a letter or digit/],
  ['we b', /may only contain/],
  ['web!', /may only contain/],
]);

describe('container names: one check, one limit, in the parser and in runtime/', () => {
  /** A Docker that knows no containers and records what it was asked. */
  const fakeDocker = (asked: string[]): Runtime => ({
    name: 'docker',
    present: () => true,
    find: async (ref) => { asked.push(ref); return []; },
    listRunning: async () => [],
  });

  it('a name of CONTAINER_REF_MAX (255) characters is taken by both; one more is refused by both, with the same message', async () => {
    expect(CONTAINER_REF_MAX).toBe(255);
    const longest = 'a'.repeat(255);
    expect(parseTarget(longest)).toEqual({ kind: 'name', name: longest });
    expect(parseTarget(`docker:${longest}`)).toEqual({ kind: 'docker', ref: longest });
    expect(parseTarget(`podman:${longest}`)).toEqual({ kind: 'podman', ref: longest });

    // runtime/ checks again before the ref goes into an API path: the same limit (it was 253 there).
    const asked: string[] = [];
    await expect(resolveRuntimeTarget({ kind: 'docker', ref: longest }, [fakeDocker(asked)])).rejects.toThrow(`no container ${longest} in docker`);
    await expect(resolveRuntimeTarget({ kind: 'name', name: longest }, [fakeDocker(asked)])).rejects.toThrow(`no running container named ${longest} in docker`);
    expect(asked).toEqual([longest, longest]);

    const tooLong = `${longest}a`;
    let parsed: unknown;
    try { parseTarget(`docker:${tooLong}`); } catch (e) { parsed = e; }
    const fromRuntime = await resolveRuntimeTarget({ kind: 'docker', ref: tooLong }, [fakeDocker(asked)]).catch((e: unknown) => e);
    expect(fromRuntime).toBeInstanceOf(UsageError);
    expect((fromRuntime as UsageError).message).toBe((parsed as UsageError).message);
    expect((fromRuntime as UsageError).message).toMatch(/the container name or id is longer than 255 characters$/);
    await expect(resolveRuntimeTarget({ kind: 'docker', ref: 'we b' }, [fakeDocker(asked)])).rejects.toThrow(/may only contain letters/);
    expect(asked).toHaveLength(2); // the refused ones never reached the runtime
  });
});

describe('one Family / familyOf', () => {
  it('text and ipaddr.js addresses; kernel/ip.ts uses the same function', () => {
    expect(familyOf('192.168.1.4')).toBe(4);
    expect(familyOf('10.0.0.0/8')).toBe(4);
    expect(familyOf('fe80::1')).toBe(6);
    expect(familyOf('::ffff:10.0.0.1')).toBe(6);
    expect(familyOf(ipaddr.parse('192.168.1.4'))).toBe(4);
    expect(familyOf(ipaddr.parse('::ffff:10.0.0.1'))).toBe(6);
    expect(kernelFamilyOf).toBe(familyOf);
    expect(parseAddress('2001:db8::4/64').family).toBe(6);
    expect(parseRoute('10.1.0.0/16@10.0.0.1').family).toBe(4);
  });
});

describe('one default state directory', () => {
  it('$HOSTNIC_STATE_DIR, else /run/hostnic, for the commands and for doctor\'s host paths alike', () => {
    expect(defaultStateDir({})).toBe('/run/hostnic');
    expect(defaultStateDir({ HOSTNIC_STATE_DIR: '/tmp/s' })).toBe('/tmp/s');
    expect(defaultHostPaths({}).stateDir).toBe('/run/hostnic');
    expect(defaultHostPaths({ HOSTNIC_STATE_DIR: '/tmp/s' }).stateDir).toBe('/tmp/s');
  });
});

describe('parseNicSelector', () => {
  it('parses names, MACs and PCI addresses', () => {
    expect(parseNicSelector('eth1')).toEqual({ kind: 'name', name: 'eth1' });
    expect(parseNicSelector('ens5')).toEqual({ kind: 'name', name: 'ens5' });
    expect(parseNicSelector('mac:52:54:00:12:34:56')).toEqual({ kind: 'mac', mac: '52:54:00:12:34:56' });
    expect(parseNicSelector('MAC:52-54-00-AB-CD-EF')).toEqual({ kind: 'mac', mac: '52:54:00:ab:cd:ef' });
    expect(parseNicSelector('pci:0000:00:05.0')).toEqual({ kind: 'pci', address: '0000:00:05.0' });
    expect(parseNicSelector('pci:00:05.0')).toEqual({ kind: 'pci', address: '0000:00:05.0' });
    expect(parseNicSelector('PCI:0000:AF:1F.7')).toEqual({ kind: 'pci', address: '0000:af:1f.7' });
    expect(parseNicSelector('pci:10000:e0:06.0')).toEqual({ kind: 'pci', address: '10000:e0:06.0' });
  });

  it('points a bare MAC or PCI address at its prefix', () => {
    expect(usageError(() => parseNicSelector('52:54:00:12:34:56'), '52:54:00:12:34:56').hint).toBe('write mac:52:54:00:12:34:56');
    expect(usageError(() => parseNicSelector('0000:00:05.0'), '0000:00:05.0').hint).toBe('write pci:0000:00:05.0');
  });
});

badTable('parseNicSelector', parseNicSelector, [
  ['', /^NIC is empty$/, 'NIC'],
  ['mac:', /has an empty MAC/],
  ['pci:', /has an empty PCI address/],
  ['mac:zz', /six two-digit hex octets/, 'zz'],
  ['mac:01:00:5e:00:00:01', /multicast/, '01:00:5e:00:00:01'],
  ['mac:00:00:00:00:00:00', /all zeros/, '00:00:00:00:00:00'],
  ['pci:0000:00:05', /expected \[DOMAIN:\]BUS:DEVICE\.FUNCTION/, '0000:00:05'],
  ['pci:0000:00:05.8', /function must be a digit 0\.\.7/, '0000:00:05.8'],
  ['pci:0000:00:20.0', /device must be two hex digits, 00\.\.1f/, '0000:00:20.0'],
  ['pci:000:00:05.0', /domain/, '000:00:05.0'],
  ['pci:00000:00:05.0', /domain/, '00000:00:05.0'],
  ['pci:0000:0:05.0', /bus must be two hex digits/, '0000:0:05.0'],
  ['pci:0000:00:5.0', /device must be two hex digits/, '0000:00:5.0'],
  ['pci:0000:00:05.0.1', /expected \[DOMAIN:\]BUS/, '0000:00:05.0.1'],
  ['pci:gg:00.0', /bus/, 'gg:00.0'],
  ['pci:1:2:3:4.0', /expected/, '1:2:3:4.0'],
  ['52:54:00:12:34:56', /that is a MAC address/],
  ['52-54-00-12-34-56', /that is a MAC address/],
  ['0000:00:05.0', /that is a PCI address/],
  ['usb:1', /not an interface name .*mac:MAC or pci:BUS-ID/],
  ['eth0:1', /not an interface name/],
  ['eth 1', /whitespace/],
  ['ethernet-adapter-0', /at most 15/],
  ['../eth0', /contains "\/"/],
]);

describe('parseAttachRequest', () => {
  const base: AttachInput = { container: 'pid:1234', nic: 'eth1', addresses: [] };

  it('builds a minimal request', () => {
    expect(parseAttachRequest(base)).toEqual({
      target: { kind: 'pid', pid: 1234 },
      nic: { kind: 'name', name: 'eth1' },
      addresses: [],
      routes: [],
      force: false,
    });
  });

  it('builds a full request', () => {
    const req = parseAttachRequest({
      container: 'docker:web',
      nic: 'mac:52:54:00:12:34:56',
      addresses: ['192.168.1.4/24@192.168.1.1', '2001:DB8::4/64@fe80::1'],
      name: 'eth1',
      mac: '02-00-00-00-00-01',
      mtu: '9000',
      routes: ['10.2.0.0/16@192.168.1.254', '2001:db8:2::/48@2001:db8::fe'],
      force: true,
    });
    expect(req).toEqual({
      target: { kind: 'docker', ref: 'web' },
      nic: { kind: 'mac', mac: '52:54:00:12:34:56' },
      addresses: [
        { family: 4, address: '192.168.1.4', prefix: 24, cidr: '192.168.1.4/24', gateway: '192.168.1.1' },
        { family: 6, address: '2001:db8::4', prefix: 64, cidr: '2001:db8::4/64', gateway: 'fe80::1' },
      ],
      name: 'eth1',
      mac: '02:00:00:00:00:01',
      mtu: 9000,
      routes: [
        { family: 4, dst: '10.2.0.0/16', via: '192.168.1.254' },
        { family: 6, dst: '2001:db8:2::/48', via: '2001:db8::fe' },
      ],
      force: true,
    });
  });

  it('allows a small MTU when no IPv6 address is given', () => {
    expect(parseAttachRequest({ ...base, addresses: ['10.0.0.5/24'], mtu: 576 }).mtu).toBe(576);
  });

  it.each([
    [{ container: 'lxc:foo' }, 'lxc:foo', /unknown target/],
    [{ nic: 'eth0:1' }, 'eth0:1', /not an interface name/],
    [{ addresses: ['10.0.0.5/24', '10.0.0.5/24'] }, '10.0.0.5', /given twice/],
    [{ name: '' }, '""', /invalid container-side name "": empty value/],
    [{ name: 'averyveryverylongname' }, 'averyveryverylongname', /container-side name/],
    [{ name: 'lo' }, '"lo"', /loopback device/],
    [{ mac: 'ff:ff:ff:ff:ff:ff' }, 'ff:ff:ff:ff:ff:ff', /broadcast/],
    [{ mtu: '1500abc' }, '1500abc', /not a whole number/],
    [{ mtu: '' }, '""', /empty value/],
    [{ addresses: ['2001:db8::5/64'], mtu: '1000' }, '1000', /below IPv6's minimum of 1280, and 2001:db8::5\/64 is IPv6/],
    [{ addresses: ['10.0.0.5/24'], routes: ['10.1.0.0/16@10.9.0.1'] }, '10.9.0.1', /outside every attached IPv4 subnet/],
    [{ routes: ['10.1.0.0/16'] }, '10.1.0.0/16', /no IPv4 address/],
    [{ addresses: ['10.0.0.5/24'], routes: ['10.1.2.3/16'] }, '10.1.2.3/16', /host bits set/],
  ] as [Partial<AttachInput>, string, RegExp][])('rejects %j', (change, offending, reason) => {
    usageError(() => parseAttachRequest({ ...base, ...change }), offending, reason);
  });
});
