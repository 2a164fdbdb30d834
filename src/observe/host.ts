/** Read-only observation of the system, turned into planner inputs. */
import { readdirSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';
import {
  addrArgs, addrExpiry, isUp, mainDefaults, ownSysctl, routeDevices, type AddrExpiry, type Link, type LinkAddrs, type NsState,
} from '../kernel/ip.js';
import { routesToKeep } from './routes.js';
import type { HostNicState } from '../plan/attach.js';
import type { NicSelector } from '../request/types.js';

export function describeSelector(sel: NicSelector): string {
  return sel.kind === 'name' ? sel.name : sel.kind === 'mac' ? `mac:${sel.mac}` : `pci:${sel.address}`;
}

export function matchesSelector(link: Link, sel: NicSelector): boolean {
  switch (sel.kind) {
    case 'name': return link.ifname === sel.name || (link.altnames ?? []).includes(sel.name);
    case 'mac': return link.address?.toLowerCase() === sel.mac || link.permaddr?.toLowerCase() === sel.mac;
    case 'pci': return link.parentbus === 'pci' && link.parentdev?.toLowerCase() === sel.address;
  }
}

/**
 * The one NIC a selector names, or undefined. Two NICs can share a MAC (a
 * bond's ports, a MAC set by hand, a VLAN on its parent) and a PCI function
 * can carry several ports: picking one of them would move a NIC the
 * operator may not have meant, so that is refused, naming them all.
 */
export function findNic<L extends Link>(links: L[], sel: NicSelector): L | undefined {
  const hits = links.filter((l) => matchesSelector(l, sel));
  if (hits.length > 1) {
    throw new UsageError(
      `${describeSelector(sel)} is ambiguous: it matches ${hits.length} NICs (${hits.map((l) => l.ifname).join(', ')})`,
      'name the NIC by its interface name instead',
    );
  }
  return hits[0];
}

/**
 * Keys the kernel derives from the link itself (IPv6's `mtu` follows the
 * link MTU): the move back sets them, writing them would only race it.
 */
const DERIVED = new Set(['ipv6/mtu']);

/**
 * Every per-interface sysctl of the NIC (all of /proc/sys/net/ipv{4,6}/conf/DEV,
 * not a fixed list) whose value differs from the namespace's `default`: a
 * namespace move resets each of them to the new namespace's `default`, so
 * these are what the NIC would come back without. Keys that cannot be read
 * (stable_secret when unset) or written (mc_forwarding) are skipped.
 */
function sysctlDiffs(dev: string): HostNicState['sysctls'] {
  const out: HostNicState['sysctls'] = [];
  for (const family of ['ipv4', 'ipv6']) {
    const dir = `/proc/sys/net/${family}/conf/${dev}`;
    let keys: string[];
    try {
      keys = readdirSync(dir).sort();
    } catch {
      continue; // IPv6 off
    }
    for (const k of keys) {
      if (DERIVED.has(`${family}/${k}`)) continue;
      const key = `net/${family}/conf/${dev}/${k}`;
      const value = ownSysctl(key);
      const defaultValue = ownSysctl(`net/${family}/conf/default/${k}`);
      if (value === undefined || defaultValue === undefined || value === defaultValue) continue;
      // Only a key that differs is asked whether it can be written (most do not differ: one stat fewer each).
      try {
        if ((statSync(`${dir}/${k}`).mode & 0o200) === 0) continue;
      } catch {
        continue;
      }
      out.push({ key, value, defaultValue });
    }
  }
  // disable_ipv6 last: detach restores in reverse, so it comes back first, before any other key and before the addresses.
  const last = (k: string): number => (k.endsWith('/disable_ipv6') ? 1 : 0);
  return out.sort((a, b) => last(a.key) - last(b.key));
}

/** Everything about a host NIC that attach takes away and detach must give back (from one read of the host). */
export function hostNicState(link: LinkAddrs, host: NsState): HostNicState {
  const now = Math.floor(Date.now() / 1000);
  // The kernel makes IPv6 link-local addresses itself when the link comes up.
  const own = link.addr_info.filter((a) => !(a.family === 'inet6' && a.scope === 'link'));
  const kept = own.map((a) => addrArgs(a, link.ifname).slice(0, -2));
  const expires: Record<string, AddrExpiry> = {};
  for (const a of own) {
    const e = addrExpiry(a, now);
    if (e) expires[`${a.local}/${a.prefixlen}`] = e;
  }
  return {
    name: link.ifname,
    ifindex: link.ifindex,
    mac: (link.address ?? '').toLowerCase(),
    ...(link.permaddr ? { permaddr: link.permaddr.toLowerCase() } : {}),
    ...(link.parentdev ? { parentdev: link.parentdev } : {}),
    ...(link.linkinfo?.info_kind ? { kind: link.linkinfo.info_kind } : {}),
    mtu: link.mtu,
    up: isUp(link),
    ...(link.ifalias ? { alias: link.ifalias } : {}),
    ...(link.master ? { master: { name: link.master, kind: link.linkinfo?.info_slave_kind ?? 'master' } } : {}),
    addrs: kept,
    ...(Object.keys(expires).length ? { addrExpires: expires } : {}),
    routes: routesToKeep(link.ifname, link.addr_info, host),
    neigh: (host.neigh ?? []).filter((n) => n.dev === link.ifname).map((n) => ({ dst: n.dst, ...(n.lladdr ? { lladdr: n.lladdr } : {}) })),
    sysctls: sysctlDiffs(link.ifname),
  };
}

/** Names of the links that carry a default route (the VM's own way out), a multipath one's hops included. */
export function defaultRouteDevices(state: NsState): Set<string> {
  return routeDevices([...mainDefaults(state.routes4), ...mainDefaults(state.routes6)]);
}

/** The first ethN (N >= 1) not used in the container. */
export function freeEthName(ctrLinks: Link[]): string {
  const used = new Set(ctrLinks.flatMap((l) => [l.ifname, ...(l.altnames ?? [])]));
  for (let n = 1; ; n++) if (!used.has(`eth${n}`)) return `eth${n}`;
}

export function hostLinks(state: NsState): LinkAddrs[] {
  return state.links.filter((l) => l.ifname !== 'lo');
}

export function nicNotFound(sel: NicSelector, available: Link[]): UsageError {
  const names = available.map((l) => l.ifname).join(', ') || 'none';
  return new UsageError(`no NIC ${describeSelector(sel)} in the host namespace`, `NICs here: ${names}`);
}
