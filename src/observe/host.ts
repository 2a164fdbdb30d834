/** Read-only observation of the system, turned into planner inputs. */
import { UsageError } from '../errors.js';
import {
  addrArgs, familyOf, isUp, mainDefaults, ownSysctl, routeArgs, routeDevices, type Link, type LinkAddrs, type NsState,
} from '../kernel/ip.js';
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

/** Per-interface sysctls that operators tune and a namespace move silently resets. */
const IFACE_SYSCTLS = {
  ipv4: ['arp_ignore', 'arp_announce', 'arp_filter', 'arp_accept', 'arp_notify', 'rp_filter', 'proxy_arp',
    'accept_redirects', 'send_redirects', 'accept_source_route', 'forwarding', 'log_martians', 'promote_secondaries'],
  ipv6: ['accept_ra', 'autoconf', 'disable_ipv6', 'forwarding', 'accept_dad', 'dad_transmits', 'ndisc_notify', 'use_tempaddr'],
};

function sysctlDiffs(dev: string): HostNicState['sysctls'] {
  const out: HostNicState['sysctls'] = [];
  for (const [family, keys] of Object.entries(IFACE_SYSCTLS)) {
    for (const k of keys) {
      const key = `net/${family}/conf/${dev}/${k}`;
      const value = ownSysctl(key);
      const defaultValue = ownSysctl(`net/${family}/conf/default/${k}`);
      if (value !== undefined && defaultValue !== undefined && value !== defaultValue) out.push({ key, value, defaultValue });
    }
  }
  return out;
}

/** Everything about a host NIC that attach takes away and detach must give back (from one read of the host). */
export function hostNicState(link: LinkAddrs, host: NsState): HostNicState {
  const kept = link.addr_info
    // The kernel makes IPv6 link-local addresses itself when the link comes up.
    .filter((a) => !(a.family === 'inet6' && a.scope === 'link'))
    .map((a) => addrArgs(a, link.ifname).slice(0, -2));
  const own = [...host.routes4, ...host.routes6]
    .filter((r) => r.dev === link.ifname)
    .filter((r) => r.protocol !== 'kernel' && !(r.dst.startsWith('fe80::') || r.dst.startsWith('ff00::')));
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
    addrs: kept,
    routes: own.map((r) => ({ family: familyOf(r.gateway ?? (r.dst === 'default' ? (r.via?.host ?? '') : r.dst)), args: routeArgs(r, link.ifname) })),
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
