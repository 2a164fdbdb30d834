/** What the command line asks for, parsed and validated, before the system is looked at. */

/** An IP family, as `ip -4` / `ip -6` name it. */
export type Family = 4 | 6;

/**
 * The family of an address: its text (from the user, or from `ip -json`; IPv6
 * text always has a ':'), or an ipaddr.js address. The one definition: the
 * request parsers and kernel/ip.ts use it.
 */
export function familyOf(address: string | { kind(): 'ipv4' | 'ipv6' }): Family {
  return (typeof address === 'string' ? address.includes(':') : address.kind() === 'ipv6') ? 6 : 4;
}

export interface AddressSpec {
  family: Family;
  /** Canonical address text (ipaddr.js toString: IPv6 compressed, lower case). */
  address: string;
  prefix: number;
  /** `${address}/${prefix}` */
  cidr: string;
  /** Canonical gateway address, when the user wrote `@gw`. Inside the address's subnet. */
  gateway?: string;
}

export interface RouteSpec {
  family: Family;
  /** Canonical network in CIDR form, host bits zero (or "default"). */
  dst: string;
  /** Canonical next hop, when the user wrote `@via`. */
  via?: string;
}

/** How the user named the container. */
export type TargetSpec =
  | { kind: 'pid'; pid: number }
  | { kind: 'netns'; name: string }
  | { kind: 'path'; path: string }
  | { kind: 'docker' | 'podman'; ref: string }
  | { kind: 'containerd'; ref: string; namespace?: string }
  /** A bare word: looked up in every container runtime present. */
  | { kind: 'name'; name: string };

/** How the user named the NIC. */
export type NicSelector =
  | { kind: 'name'; name: string }
  /** Lower case, colon separated. */
  | { kind: 'mac'; mac: string }
  /** Full PCI bus id, lower case: 0000:00:05.0 */
  | { kind: 'pci'; address: string };

export interface AttachRequest {
  target: TargetSpec;
  nic: NicSelector;
  addresses: AddressSpec[];
  /** Container-side interface name; absent: first free ethN (N >= 1). */
  name?: string;
  /** Lower case, colon separated, unicast, not all-zero. */
  mac?: string;
  mtu?: number;
  routes: RouteSpec[];
  force: boolean;
  /** `--macvlan`: a macvlan child of the NIC goes into the container; the NIC itself stays in the host. */
  macvlan?: { mode: 'bridge' | 'private' | 'vepa' };
  /** `dhcp` among the addresses: an IPv4 address (and router, routes, MTU) from DHCP, renewed while attached. */
  dhcp?: DhcpSpec;
}

export interface DhcpSpec {
  /** Seconds to wait for the first lease. */
  timeout: number;
}
