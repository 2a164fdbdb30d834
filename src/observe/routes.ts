/**
 * Which of the host's routes through a NIC detach must put back, and in what
 * order. Pure: from one read of the host (kernel/ip.ts readNs).
 *
 * A namespace move deletes every route through the NIC, in every table (an
 * IPv4 multipath route with a hop through it goes whole). When the NIC comes
 * back and its addresses are restored, the kernel itself re-creates only the
 * prefix route of each address without `noprefixroute` (`proto kernel`, in
 * the main table, metric 0 for IPv4 and 256 for IPv6) and IPv6's fe80::/64.
 * Everything else is kept: the subnet routes NetworkManager installs for its
 * `noprefixroute` addresses (also `proto kernel`, metric 100 or so), routes
 * in other tables, with a scope, a type, `onlink`, route metrics, multipath
 * routes with a hop through the NIC.
 */
import ipaddr from 'ipaddr.js';
import { routeArgs, type AddrInfo, type Family, type NsState, type Route } from '../kernel/ip.js';

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

function cidrOf(dst: string, family: Family): Cidr | undefined {
  try {
    if (dst === 'default') return [ipaddr.parse(family === 4 ? '0.0.0.0' : '::'), 0];
    if (dst.includes('/')) return ipaddr.parseCIDR(dst);
    const ip = ipaddr.parse(dst);
    return [ip, ip.kind() === 'ipv4' ? 32 : 128];
  } catch {
    return undefined;
  }
}

const sameCidr = (a: Cidr, b: Cidr): boolean => a[1] === b[1] && a[0].kind() === b[0].kind() && a[0].match(b[0], b[1]);

/** The prefix routes the kernel makes for these addresses (of one family) once the link is up. */
function kernelPrefixes(addrs: AddrInfo[], family: Family): Cidr[] {
  const out: Cidr[] = family === 6 ? [[ipaddr.parse('fe80::'), 64]] : [];
  for (const a of addrs) {
    if ((a.family === 'inet') !== (family === 4) || a.noprefixroute) continue;
    // With a peer, the route goes to the peer's prefix.
    const base = cidrOf(`${a.address ?? a.local}/${a.prefixlen}`, family);
    if (base) out.push([base[0].kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(`${base[0].toString()}/${base[1]}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${base[0].toString()}/${base[1]}`), base[1]]);
  }
  return out;
}

/** A route the kernel re-creates by itself from the restored addresses (so restoring it would clash). */
export function kernelMade(r: Route, addrs: AddrInfo[], family: Family): boolean {
  if (r.protocol !== 'kernel' || (r.table !== undefined && r.table !== 'main') || (r.type && r.type !== 'unicast')) return false;
  if (r.gateway || r.via || r.nexthops?.length) return false;
  if ((r.metric ?? 0) !== (family === 4 ? 0 : 256)) return false;
  const dst = cidrOf(r.dst, family);
  return !!dst && kernelPrefixes(addrs, family).some((p) => sameCidr(p, dst));
}

const through = (r: Route, dev: string): boolean => r.dev === dev || (r.nexthops ?? []).some((h) => h.dev === dev);
const hasGateway = (r: Route): boolean =>
  !!(r.gateway ?? r.via) || (r.nexthops ?? []).some((h) => h.gateway ?? h.via);

/**
 * Restore order: routes without a gateway first (they make gateways
 * reachable: the kernel resolves a gateway only through a route without
 * one), then the routes via a gateway. Removal runs the other way.
 */
export function restoreOrder(routes: Route[]): Route[] {
  return [...routes.filter((r) => !hasGateway(r)), ...routes.filter(hasGateway)];
}

/** The host's routes through `dev` that detach must re-create, by family, as `ip route add` arguments in restore order. */
export function routesToKeep(dev: string, addrs: AddrInfo[], host: NsState): { family: Family; args: string[] }[] {
  const out: { family: Family; args: string[] }[] = [];
  for (const [family, routes] of [[4, host.routes4], [6, host.routes6]] as const) {
    const keep = routes.filter((r) => through(r, dev))
      .filter((r) => !kernelMade(r, addrs, family))
      // Multicast (ff00::/8) lives in the local table, which readNs leaves out; RA-learned routes expire and come back with the next RA.
      .filter((r) => r.expires === undefined);
    out.push(...restoreOrder(keep).map((r) => ({ family, args: routeArgs(r, dev) })));
  }
  return out;
}
