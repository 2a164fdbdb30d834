/** What manager detection works with: a NIC's identity, and a manager's claim on it. */

export type ManagerName = 'NetworkManager' | 'systemd-networkd' | 'ifupdown' | 'dhcp-client' | 'netplan';

export interface ManagerClaim {
  manager: ManagerName;
  /** It acts on the NIC now (the daemon manages it, the client process runs). */
  active: boolean;
  /** Configuration that acts at boot (or on hotplug) even if nothing runs now. */
  atBoot: boolean;
  /** One line for people: state, file:line, pid. */
  detail: string;
  file?: string;
  line?: number;
  pid?: number;
  /** NetworkManager's device state and connection. */
  state?: string;
  connection?: string;
}

/** What identifies a NIC for matching rules (a subset of NicInfo). */
export interface NicIdentity {
  name: string;
  mac: string | null;
  permanentMac: string | null;
  /** 'physical', or the kernel's link kind (veth, bridge, macvlan, ...). */
  kind: string;
  driver: string | null;
  pci: string | null;
  /** `link_type` of `ip -json link` (ether, loopback, ...). */
  linkType?: string | null;
}

/** Claims found by one manager's detector, as (NIC name, claim) pairs. */
export type Claims = [string, ManagerClaim][];

/** A MAC as configuration files write it (any case, ':' or '-'), in the kernel's form. */
export const normMac = (m: string): string => m.trim().toLowerCase().replace(/-/g, ':');
