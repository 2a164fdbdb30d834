/**
 * A DHCP lease as busybox udhcpc hands it to its event script (environment
 * variables), and the commands that apply it to a link. Pure: no I/O.
 *
 * udhcpc's variables: `ip`, `mask` (prefix length), `router` (space
 * separated), `staticroutes` (option 121 as "DST/LEN GW DST/LEN GW ...", a
 * gateway 0.0.0.0 meaning on-link), `mtu`, `lease` (seconds), `serverid`.
 * RFC 3442: when classless routes are sent, the router option is ignored;
 * their 0.0.0.0/0 entry is the default route, on-link when its gateway is
 * 0.0.0.0 (kept as router 0.0.0.0).
 */
import ipaddr from 'ipaddr.js';

export interface DhcpRoute {
  /** Canonical network, host bits zero. */
  dst: string;
  /** Next hop; absent: on-link. */
  via?: string;
}

export interface DhcpLease {
  ip: string;
  prefix: number;
  /** The default route's next hop (classless 0.0.0.0/0, else the first router); ON_LINK: a default route on the link itself. */
  router?: string;
  /** Classless routes besides the default. */
  routes: DhcpRoute[];
  mtu?: number;
  server?: string;
  /** Lease time in seconds. */
  seconds: number;
  /** When it was bound or renewed (Unix seconds). */
  at: number;
}

export class LeaseError extends Error {}

/** The router of a classless default route sent with gateway 0.0.0.0: the default route is on the link, no next hop. */
export const ON_LINK = '0.0.0.0';

function v4(text: string | undefined, what: string): string {
  if (text === undefined || !ipaddr.IPv4.isValidFourPartDecimal(text)) throw new LeaseError(`${what} ${JSON.stringify(text ?? '')} is not an IPv4 address`);
  return ipaddr.IPv4.parse(text).toString();
}

/** A network "a.b.c.d/len" with its host bits cleared. */
function network(text: string): string {
  const [addr, len] = text.split('/');
  const prefix = Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new LeaseError(`classless route ${JSON.stringify(text)} has no prefix length 0..32`);
  const a = ipaddr.IPv4.parse(v4(addr, 'classless route destination'));
  const mask = ipaddr.IPv4.subnetMaskFromPrefixLength(prefix).toByteArray();
  return `${ipaddr.fromByteArray(a.toByteArray().map((b, i) => b & mask[i]!)).toString()}/${prefix}`;
}

/** Option 121 as udhcpc writes it: pairs "DST/LEN GW". */
export function parseStaticRoutes(text: string): { dst: string; via?: string }[] {
  const words = text.trim().split(/\s+/).filter(Boolean);
  if (words.length % 2) throw new LeaseError(`classless routes ${JSON.stringify(text)} are not pairs of DST/LEN GATEWAY`);
  const out: { dst: string; via?: string }[] = [];
  for (let i = 0; i < words.length; i += 2) {
    const gw = v4(words[i + 1], 'classless route gateway');
    out.push({ dst: network(words[i]!), ...(gw === '0.0.0.0' ? {} : { via: gw }) });
  }
  return out;
}

/** The lease in udhcpc's environment (a `bound` or `renew` event); `now` in Unix seconds. */
export function leaseFromEnv(env: Record<string, string | undefined>, now: number): DhcpLease {
  const ip = v4(env.ip, 'address');
  const prefix = Number(env.mask ?? '');
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 32) throw new LeaseError(`prefix length ${JSON.stringify(env.mask ?? '')} is not 1..32`);
  const seconds = env.lease === undefined || env.lease === '' ? 0 : Number(env.lease);
  if (!Number.isInteger(seconds) || seconds < 0) throw new LeaseError(`lease time ${JSON.stringify(env.lease)} is not a number of seconds`);
  const lease: DhcpLease = { ip, prefix, routes: [], seconds, at: Math.floor(now) };
  const classless = env.staticroutes ? parseStaticRoutes(env.staticroutes) : [];
  if (classless.length) {
    for (const r of classless) {
      if (r.dst === '0.0.0.0/0') lease.router ??= r.via ?? ON_LINK;
      else lease.routes.push(r);
    }
  } else if (env.router) {
    // Option 3 has no on-link form (RFC 2132): a router 0.0.0.0 there is no router.
    const first = env.router.trim().split(/\s+/)[0];
    if (first && v4(first, 'router') !== ON_LINK) lease.router = v4(first, 'router');
  }
  if (env.mtu) {
    const mtu = Number(env.mtu);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) throw new LeaseError(`MTU ${JSON.stringify(env.mtu)} is not 68..65535`);
    lease.mtu = mtu;
  }
  if (env.serverid) lease.server = v4(env.serverid, 'server');
  return lease;
}

/** Whether `gw` is inside the lease's own subnet (else it is reached through an on-link host route). */
export function onSubnet(lease: Pick<DhcpLease, 'ip' | 'prefix'>, gw: string): boolean {
  return lease.prefix < 32 && ipaddr.IPv4.parse(gw).match(ipaddr.IPv4.parse(lease.ip), lease.prefix);
}

/** What a lease puts on a link: `ip route add` arguments, in the order they are added. */
export interface LeaseRoutes {
  /** On-link host routes to next hops outside the subnet (a /32 lease's router). */
  onlink: string[][];
  /** The default route's arguments, when the lease has a router. */
  default?: string[];
  routes: string[][];
}

export function leaseRoutes(lease: DhcpLease, dev: string): LeaseRoutes {
  const hops = [...new Set([lease.router, ...lease.routes.map((r) => r.via)].filter((g): g is string => g !== undefined && g !== ON_LINK))];
  const onlink = hops.filter((g) => !onSubnet(lease, g) && g !== lease.ip).map((g) => [`${g}/32`, 'dev', dev, 'scope', 'link']);
  // Not added twice ("File exists"): a classless on-link route that is one of those host routes (GCE sends
  // ROUTER/32 0.0.0.0, then default via ROUTER: the host route goes first, before what goes through it),
  // or the lease's own subnet (the kernel made that route with the address).
  const subnet = lease.prefix < 32 ? network(`${lease.ip}/${lease.prefix}`) : undefined;
  const sent = lease.routes.filter((r) => r.via !== undefined || (r.dst !== subnet && !onlink.some((o) => o[0] === r.dst)));
  const def = lease.router === ON_LINK ? ['0.0.0.0/0', 'dev', dev, 'scope', 'link'] : lease.router ? ['0.0.0.0/0', 'via', lease.router, 'dev', dev] : undefined;
  return {
    onlink,
    ...(def ? { default: def } : {}),
    routes: sent.map((r) => (r.via ? [r.dst, 'via', r.via, 'dev', dev] : [r.dst, 'dev', dev, 'scope', 'link'])),
  };
}

/** What of a lease is applied to the link (a renewal that changes any of it is applied again). */
export function appliedPart(l: DhcpLease): string {
  return JSON.stringify({ ip: l.ip, prefix: l.prefix, router: l.router ?? null, routes: l.routes, mtu: l.mtu ?? null });
}

/** When the lease ends (Unix seconds). */
export const expiry = (l: DhcpLease): number => l.at + l.seconds;
