/**
 * Addresses and routes: `ip/prefix[@gw]` and `CIDR[@via]`. All address work
 * is done by ipaddr.js; this module only decides what is acceptable.
 */
import ipaddr from 'ipaddr.js';
import { familyOf, type AddressSpec, type Family, type RouteSpec } from './types.js';
import { fail, q } from './text.js';

export type IP = ipaddr.IPv4 | ipaddr.IPv6;

const MAX_PREFIX: Record<Family, number> = { 4: 32, 6: 128 };

/**
 * Parse one bare address, strictly: IPv4 only as four decimal numbers
 * without leading zeros (ipaddr.js alone would also take "10.1", "0x0a.0.0.1"
 * and octal "010.0.0.1"), IPv6 without a zone index or brackets.
 * Returns the address, or why the text is not one.
 */
export function readIp(text: string): IP | string {
  if (text === '') return 'empty value';
  // The longest address text is 45 characters (IPv6 with a dotted quad).
  if (text.length > 45) return 'not an IPv4 or IPv6 address';
  if (/\s/.test(text)) return 'contains whitespace';
  if (text.includes(':')) {
    if (text.includes('%')) return 'a zone index ("%...") is not allowed here';
    if (text.startsWith('[') || text.endsWith(']')) return 'write the IPv6 address without brackets';
    if (!ipaddr.IPv6.isValid(text)) return 'not an IPv4 or IPv6 address';
    // An embedded dotted quad (::ffff:1.2.3.4) gets the same strict IPv4 rule.
    const tail = text.slice(text.lastIndexOf(':') + 1);
    if (tail.includes('.') && !ipaddr.IPv4.isValidFourPartDecimal(tail)) return 'not an IPv4 or IPv6 address';
    return ipaddr.IPv6.parse(text);
  }
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) return ipaddr.IPv4.parse(text);
  if (/^\d+(\.\d+){3}$/.test(text) && text.split('.').every((part) => Number(part) <= 255)) {
    return 'an IPv4 octet has a leading zero (ambiguous: some tools read it as octal)';
  }
  return 'not an IPv4 or IPv6 address';
}

/** Parse a prefix length text ("24"); returns the number, or why not. */
function readPrefix(text: string, family: Family, min: number): number | string {
  if (text === '') return 'empty prefix after "/"';
  if (!/^\d+$/.test(text)) return `prefix ${q(text)} is not a number`;
  const n = Number(text);
  const max = MAX_PREFIX[family];
  if (n < min || n > max) return `prefix /${text} is out of range for IPv${family} (${min}..${max})`;
  return n;
}

type Range = [IP, number];
const range = (cidr: string): Range => ipaddr.parseCIDR(cidr);

/** Addresses that are never a host's address (or a next hop). First match wins. */
const SPECIAL: [Range, string][] = [
  [range('0.0.0.0/32'), 'the unspecified address'],
  [range('0.0.0.0/8'), 'in 0.0.0.0/8 ("this network"), not a host address'],
  [range('127.0.0.0/8'), 'a loopback address'],
  [range('224.0.0.0/4'), 'a multicast address'],
  [range('255.255.255.255/32'), 'the limited broadcast address'],
  [range('240.0.0.0/4'), 'in the reserved range 240.0.0.0/4'],
  [range('::/128'), 'the unspecified address'],
  [range('::1/128'), 'the loopback address'],
  [range('ff00::/8'), 'a multicast address'],
  [range('::ffff:0:0/96'), 'an IPv4-mapped IPv6 address (write the IPv4 address itself)'],
  [range('fe80::/10'), 'an IPv6 link-local address (the kernel gives every link its own)'],
];

/** Why `ip` cannot be a host address or a next hop, or undefined when it can. */
function special(ip: IP): string | undefined {
  for (const [r, why] of SPECIAL) {
    if (r[0].kind() === ip.kind() && ip.match(r)) return why;
  }
  return undefined;
}

export function isIPv6LinkLocal(ip: IP): boolean {
  return ip.kind() === 'ipv6' && ip.range() === 'linkLocal';
}

/** The network address of ip/prefix. */
export function networkOf(ip: IP, prefix: number): IP {
  const cidr = `${ip.toString()}/${prefix}`;
  return ip.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
}

function broadcastOf(ip: ipaddr.IPv4, prefix: number): IP {
  return ipaddr.IPv4.broadcastAddressFromCIDR(`${ip.toString()}/${prefix}`);
}

/** True when `ip` is inside net/prefix (same family only). */
export function inSubnet(ip: IP, net: IP, prefix: number): boolean {
  return ip.kind() === net.kind() && ip.match(net, prefix);
}

function sameIp(a: IP, b: IP): boolean {
  return a.kind() === b.kind() && a.toString() === b.toString();
}

/**
 * For IPv4 subnets with room for a network and a broadcast address (prefix
 * below 31): which of the two `ip` is, or undefined.
 */
function networkOrBroadcast(ip: IP, subnetIp: IP, prefix: number): 'network' | 'broadcast' | undefined {
  if (ip.kind() !== 'ipv4' || subnetIp.kind() !== 'ipv4' || prefix >= 31) return undefined;
  if (sameIp(ip, networkOf(subnetIp, prefix))) return 'network';
  if (sameIp(ip, broadcastOf(subnetIp as ipaddr.IPv4, prefix))) return 'broadcast';
  return undefined;
}

const EXAMPLE: Record<Family, string> = { 4: '192.168.1.4/24', 6: '2001:db8::4/64' };

/** `ip/prefix[@gw]`, IPv4 or IPv6. */
export function parseAddress(s: string): AddressSpec {
  const what = `invalid address ${q(s)}`;
  if (s === '') fail(`${what}: empty value`, `write IP/PREFIX[@GATEWAY], e.g. ${EXAMPLE[4]}@192.168.1.1`);
  const at = s.split('@');
  if (at.length > 2) fail(`${what}: more than one "@"`);
  const [cidrText = '', gwText] = at;
  const slash = cidrText.split('/');
  if (slash.length > 2) fail(`${what}: more than one "/"`);
  const [ipText = '', prefixText] = slash;
  if (ipText === '') fail(`${what}: missing the address before "/"`);

  const ip = readIp(ipText);
  if (typeof ip === 'string') fail(`${what}: ${ip}`);
  const family = familyOf(ip);
  if (prefixText === undefined) {
    const example = family === 4 ? `${ipText}/24` : `${ipText}/64`;
    fail(`${what}: missing /prefix (e.g. ${example})`);
  }
  const prefix = readPrefix(prefixText, family, 1);
  if (typeof prefix === 'string') fail(`${what}: ${prefix}`);

  const why = special(ip);
  if (why) fail(`${what}: ${ipText} is ${why}`);
  const net = networkOf(ip, prefix);
  const edge = networkOrBroadcast(ip, ip, prefix);
  if (edge) {
    fail(`${what}: ${ipText} is the ${edge} address of ${net.toString()}/${prefix}`, 'use a host address inside the subnet');
  }
  if (family === 6 && prefix < 127 && sameIp(ip, net)) {
    fail(`${what}: ${ipText} is the subnet-router anycast address of ${net.toString()}/${prefix}`, 'use a host address inside the subnet');
  }

  const spec: AddressSpec = { family, address: ip.toString(), prefix, cidr: `${ip.toString()}/${prefix}` };
  if (gwText === undefined) return spec;
  spec.gateway = checkGateway(s, gwText, ip, prefix, cidrText);
  return spec;
}

function checkGateway(s: string, gwText: string, ip: IP, prefix: number, cidrText: string): string {
  const what = `invalid address ${q(s)}`;
  if (gwText === '') fail(`${what}: empty gateway after "@"`);
  const gw = readIp(gwText);
  if (typeof gw === 'string') fail(`${what}: gateway ${q(gwText)}: ${gw}`);
  const family = familyOf(ip);
  if (familyOf(gw) !== family) fail(`gateway ${gwText} is IPv${familyOf(gw)} but ${cidrText} is IPv${family}`);
  if (sameIp(gw, ip)) fail(`gateway ${gwText} is the address ${cidrText} itself`);
  // An IPv6 router is normally reached at its link-local address, on no subnet of ours.
  if (isIPv6LinkLocal(gw)) return gw.toString();
  const why = special(gw);
  if (why) fail(`gateway ${gwText} is ${why}`);
  if (prefix === MAX_PREFIX[family]) {
    fail(
      `${cidrText} has no room for a gateway (gateway ${gwText})`,
      family === 4
        ? `give the subnet's real prefix, or make the gateway reachable with --route ${gwText}/32 --route default@${gwText}`
        : 'use a link-local gateway (fe80::...), or give the subnet\'s real prefix',
    );
  }
  const net = networkOf(ip, prefix);
  if (!inSubnet(gw, net, prefix)) {
    fail(
      `gateway ${gwText} is outside ${cidrText}`,
      family === 4
        ? `${cidrText} spans ${net.toString()} to ${broadcastOf(ip as ipaddr.IPv4, prefix).toString()}`
        : `${cidrText} is in ${net.toString()}/${prefix}; an IPv6 gateway may also be a link-local fe80:: address`,
    );
  }
  const edge = networkOrBroadcast(gw, ip, prefix);
  if (edge) fail(`gateway ${gwText} is the ${edge} address of ${net.toString()}/${prefix}`);
  return gw.toString();
}

/** Several addresses, each parsed, then checked against each other. */
export function parseAddresses(list: readonly string[]): AddressSpec[] {
  const specs = list.map((s) => parseAddress(s));
  const byAddress = new Map<string, AddressSpec>();
  const gatewayOf = new Map<Family, AddressSpec>();
  for (const spec of specs) {
    const key = `${spec.family} ${spec.address}`;
    const seen = byAddress.get(key);
    if (seen) fail(`address ${spec.address} is given twice (${seen.cidr} and ${spec.cidr})`);
    byAddress.set(key, spec);
    if (spec.gateway !== undefined) {
      const other = gatewayOf.get(spec.family);
      if (other) {
        fail(
          `two IPv${spec.family} gateways: ${other.gateway} (on ${other.cidr}) and ${spec.gateway} (on ${spec.cidr})`,
          'there is one default route per family: give @GATEWAY on one address only',
        );
      }
      gatewayOf.set(spec.family, spec);
    }
  }
  for (const spec of specs) {
    if (spec.gateway === undefined) continue;
    const local = byAddress.get(`${spec.family} ${spec.gateway}`);
    if (local) fail(`gateway ${spec.gateway} (on ${spec.cidr}) is one of the addresses being attached (${local.cidr})`);
  }
  return specs;
}

/** How a parsed route reads in messages: canonical `dst[@via]`. */
export function routeText(r: RouteSpec): string {
  return r.via === undefined ? r.dst : `${r.dst}@${r.via}`;
}

/** `CIDR[@via]` or `default@via`. The destination must be a network (host bits zero). */
export function parseRoute(s: string): RouteSpec {
  const what = `invalid route ${q(s)}`;
  if (s === '') fail(`${what}: empty value`, 'write CIDR[@VIA], e.g. 10.2.0.0/16@192.168.1.1, or default@VIA');
  const at = s.split('@');
  if (at.length > 2) fail(`${what}: more than one "@"`);
  const [dstText = '', viaText] = at;

  let via: IP | undefined;
  if (viaText !== undefined) {
    if (viaText === '') fail(`${what}: empty next hop after "@"`);
    const parsed = readIp(viaText);
    if (typeof parsed === 'string') fail(`${what}: next hop ${q(viaText)}: ${parsed}`);
    if (!isIPv6LinkLocal(parsed)) {
      const why = special(parsed);
      if (why) fail(`${what}: next hop ${viaText} is ${why}`);
    }
    via = parsed;
  }

  if (dstText === '') fail(`${what}: missing the destination before "@"`);
  if (dstText === 'default') {
    if (!via) fail(`${what}: a default route needs @VIA (e.g. default@192.168.1.1)`);
    return { family: familyOf(via), dst: 'default', via: via.toString() };
  }
  const slash = dstText.split('/');
  if (slash.length > 2) fail(`${what}: more than one "/"`);
  const [ipText = '', prefixText] = slash;
  if (ipText === '') fail(`${what}: missing the destination address before "/"`);
  const ip = readIp(ipText);
  if (typeof ip === 'string') fail(`${what}: ${ip}`);
  const family = familyOf(ip);
  if (prefixText === undefined) {
    fail(`${what}: missing /prefix on the destination (e.g. ${ipText}/${MAX_PREFIX[family]} for one host)`);
  }
  const prefix = readPrefix(prefixText, family, 0);
  if (typeof prefix === 'string') fail(`${what}: ${prefix}`);
  if (via && familyOf(via) !== family) fail(`${what}: next hop ${viaText} is IPv${familyOf(via)} but ${dstText} is IPv${family}`);

  const net = networkOf(ip, prefix);
  if (!sameIp(net, ip)) {
    fail(`${what}: ${dstText} has host bits set (the network is ${net.toString()}/${prefix})`);
  }
  if (prefix > 0) {
    const unreachable = [range('127.0.0.0/8'), range('::1/128'), range('::ffff:0:0/96')].some(
      (r) => r[0].kind() === ip.kind() && ip.match(r) && prefix >= r[1],
    );
    if (unreachable) fail(`${what}: ${dstText} is a loopback or IPv4-mapped range, not reachable through a NIC`);
  }
  const route: RouteSpec = { family, dst: prefix === 0 ? 'default' : `${net.toString()}/${prefix}` };
  if (via) route.via = via.toString();
  return route;
}

/**
 * Check routes against the addresses being attached. Each route leaves
 * through the new NIC, which has only those addresses, so:
 * - a route needs an address of its family on the NIC;
 * - its next hop must be on-link: inside an attached subnet, an IPv6
 *   link-local address, or inside the destination of a `--route` without
 *   `@via` (a device route, the usual way to reach a gateway outside a /32);
 * - no two routes to one destination, and no `default@via` when an
 *   address's `@gw` already sets that family's default route.
 */
export function checkRoutes(routes: readonly RouteSpec[], addresses: readonly AddressSpec[]): void {
  const seen = new Map<string, RouteSpec>();
  for (const r of routes) {
    const key = `${r.family} ${r.dst}`;
    const other = seen.get(key);
    if (other) fail(`two routes to ${r.dst}: ${routeText(other)} and ${routeText(r)}`);
    seen.set(key, r);
  }

  for (const r of routes) {
    const text = routeText(r);
    const mine = addresses.filter((a) => a.family === r.family);
    if (mine.length === 0) {
      fail(
        `route ${text} is IPv${r.family}, but no IPv${r.family} address is being attached`,
        'a --route leaves through the attached NIC, which needs an address of the same family',
      );
    }
    if (r.dst === 'default') {
      const withGw = mine.find((a) => a.gateway !== undefined);
      if (withGw) {
        fail(
          `route ${text} and the gateway ${withGw.gateway} on ${withGw.cidr} both set the IPv${r.family} default route`,
          'keep one of them',
        );
      }
    } else {
      const [dstIp, dstPrefix] = ipaddr.parseCIDR(r.dst);
      const connected = mine.find((a) => {
        const [aIp] = ipaddr.parseCIDR(a.cidr);
        return a.prefix === dstPrefix && sameIp(networkOf(aIp, a.prefix), dstIp);
      });
      if (connected) fail(`route ${text} duplicates the subnet route of ${connected.cidr}, which the kernel adds by itself`);
    }

    if (r.via === undefined) continue;
    const via = ipaddr.parse(r.via);
    const local = mine.find((a) => a.address === r.via);
    if (local) fail(`route ${text}: next hop ${r.via} is one of the addresses being attached (${local.cidr})`);
    if (isIPv6LinkLocal(via)) continue;

    let onLink = false;
    for (const a of mine) {
      const aIp = ipaddr.parse(a.address);
      if (!inSubnet(via, networkOf(aIp, a.prefix), a.prefix)) continue;
      const edge = networkOrBroadcast(via, aIp, a.prefix);
      if (edge) fail(`route ${text}: next hop ${r.via} is the ${edge} address of ${a.cidr}`);
      onLink = true;
    }
    if (!onLink) {
      onLink = routes.some((d) => {
        if (d.via !== undefined || d.family !== r.family || d.dst === 'default') return false;
        const [dIp, dPrefix] = ipaddr.parseCIDR(d.dst);
        return inSubnet(via, dIp, dPrefix);
      });
    }
    if (!onLink) {
      fail(
        `route ${text}: next hop ${r.via} is outside every attached IPv${r.family} subnet (${mine.map((a) => a.cidr).join(', ')})`,
        `the route leaves through the attached NIC; make the next hop on-link with --route ${r.via}/${MAX_PREFIX[r.family]}`,
      );
    }
  }
}
