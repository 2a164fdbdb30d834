/** What the command line asks for, parsed and validated, before the system is looked at. */

export type Family = 4 | 6;

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
}
