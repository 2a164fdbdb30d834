/**
 * The NICs of hostnic's namespace (or of another one, by path), as data:
 * what `hostnic nics` prints and what the doctor checks look at.
 *
 * Everything comes from netlink (`ip -d -json link`, `ip -json addr`,
 * `ip -json route`) and /proc/sys, which follow the namespace. /sys is only
 * used after checking that it shows this namespace: hostnic may run under
 * `nsenter --net`, where /sys still shows the initial namespace's links.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { read } from '../exec.js';
import { addrs, defaultRoutes, links, routeDevices, type Link, type LinkAddrs, type Route } from '../kernel/ip.js';
import { detectManagers, managerNames, type ManagerClaim, type ManagerOptions } from './managers.js';
import { onPath } from '../runtime/common.js';
import { PCI_ADDRESS } from '../request/nic.js';
import { hostPaths } from './paths.js';
import { maxConf, sysctlReader, type SysctlReader } from './sysctl.js';

/** 'macvlan-child': a macvlan child of a host NIC that hostnic made in a container (attach --macvlan). */
export type NicRole = 'primary' | 'secondary' | 'attached' | 'macvlan-child';

/**
 * One NIC. The JSON form of `hostnic nics --json` is an array of these:
 * every key is always present (null when unknown), so scripts can rely on it.
 */
export interface NicInfo {
  name: string;
  ifindex: number;
  /** Current MAC, lower case; null for links without one. */
  mac: string | null;
  /** The permanent (burned-in) MAC where the driver has one. */
  permanentMac: string | null;
  /** 'physical' (has a parent device on a bus), else the link kind: veth, macvlan, bridge, ... ('unknown' when none). */
  kind: string;
  driver: string | null;
  /** Parent bus (pci, virtio, vmbus, ...) and device, as `ip -d link` reports them. */
  bus: string | null;
  parentDev: string | null;
  /** PCI address (0000:00:05.0) when the parent bus is PCI. */
  pci: string | null;
  /** Operational state, lower case: up, down, lowerlayerdown, unknown, ... */
  state: string;
  /** Administratively up (`ip link set up`). */
  up: boolean;
  mtu: number;
  /** Global and site addresses as ip/prefix. */
  addresses: string[];
  role: NicRole;
  /** Carries a default route (IPv4 or IPv6, main table). */
  primary: boolean;
  /** The container it is attached to (role 'attached'), as `hostnic status` names it: pid:1234, docker:web, ... */
  container: string | null;
  /** Its interface name inside that container (null when it is not there any more). */
  containerIfname: string | null;
  /** The bridge or bond it is enslaved to. */
  master: string | null;
  /** Managers that act on it now or at boot: NetworkManager, systemd-networkd, ifupdown, dhcp-client, netplan. */
  managedBy: string[];
  /** Effective values, as the kernel combines them: max(all, interface). */
  arpIgnore: number | null;
  arpAnnounce: number | null;
  rpFilter: number | null;
  /** `link_type` of the link (ether, ...). */
  linkType: string | null;
  /** The link does not do ARP (NOARP flag): it cannot take part in ARP flux. */
  noArp: boolean;
  /** Role 'macvlan-child': the host NIC it is a child of; else null. */
  parent: string | null;
}

/** NicInfo plus the details behind `managedBy` (not part of the stable JSON). */
export interface NicDetail extends NicInfo {
  claims: ManagerClaim[];
}

export interface InventoryOptions extends ManagerOptions {
  /** NICs that are attached to a container, by name -> container (from the state directory). */
  attached?: Map<string, string>;
  /** Detect managers (default true). */
  managers?: boolean;
  /** Read sysctls through this reader (default: one for `netns`). */
  sysctl?: SysctlReader;
}

const IFACE_KEYS = ['arp_ignore', 'arp_announce', 'rp_filter'] as const;

/** Sysctl keys for one interface's IPv4 conf (slash form). */
export function confKey(iface: string, key: string): string {
  return `net/ipv4/conf/${iface}/${key}`;
}

/** /sys/class/net/NAME, when it is the link we mean (same ifindex and MAC), else undefined. */
function ourSysfs(sysClassNet: string, link: Link): string | undefined {
  const dir = join(sysClassNet, link.ifname);
  try {
    if (Number(readFileSync(join(dir, 'ifindex'), 'utf8').trim()) !== link.ifindex) return undefined;
    const mac = readFileSync(join(dir, 'address'), 'utf8').trim().toLowerCase();
    if ((link.address ?? '').toLowerCase() !== mac) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

async function ethtoolDriver(name: string, netns: string | undefined): Promise<string | null> {
  try {
    const out = await read({ argv: ['ethtool', '-i', name], netns, timeoutMs: 5000 });
    const m = /^driver:\s*(\S+)/m.exec(out);
    return m ? m[1]! : null;
  } catch {
    return null;
  }
}

export function kindOf(link: Link): string {
  if (link.parentbus) return 'physical';
  return link.linkinfo?.info_kind ?? 'unknown';
}

export function globalAddresses(la: LinkAddrs | undefined): string[] {
  return (la?.addr_info ?? [])
    .filter((a) => !a.scope || a.scope === 'global' || a.scope === 'site')
    .map((a) => `${a.local}/${a.prefixlen}`);
}

/** The NICs of the namespace (never lo), in ifindex order. */
export async function listNics(opts: InventoryOptions = {}): Promise<NicDetail[]> {
  const { netns } = opts;
  const paths = hostPaths(opts.paths);
  const [all, addrList, def4, def6] = await Promise.all([
    links(netns),
    addrs(netns),
    defaultRoutes(netns, 4).catch(() => [] as Route[]),
    defaultRoutes(netns, 6).catch(() => [] as Route[]),
  ]);
  const nicLinks = all.filter((l) => l.ifname !== 'lo' && l.link_type !== 'loopback').sort((a, b) => a.ifindex - b.ifindex);
  const defaults = routeDevices([...def4, ...def6]);
  const reader = opts.sysctl ?? sysctlReader(netns);
  const keys = ['all', ...nicLinks.map((l) => l.ifname)].flatMap((i) => IFACE_KEYS.map((k) => confKey(i, k)));
  const values = await reader.get(keys);
  // On PATH as exec looks it up: a program elsewhere could not be run anyway.
  const haveEthtool = onPath('ethtool') !== undefined;

  const nics: NicDetail[] = [];
  for (const l of nicLinks) {
    const sys = ourSysfs(paths.sysClassNet, l);
    let driver: string | null = haveEthtool ? await ethtoolDriver(l.ifname, netns) : null;
    let permanentMac = l.permaddr?.toLowerCase() ?? null;
    if (sys) {
      if (!driver) {
        try {
          driver = basename(readlinkSync(join(sys, 'device', 'driver')));
        } catch {
          /* virtual: no device */
        }
      }
      if (!permanentMac) {
        try {
          // 0 = NET_ADDR_PERM: the current address is the permanent one.
          if (readFileSync(join(sys, 'addr_assign_type'), 'utf8').trim() === '0' && l.address) permanentMac = l.address.toLowerCase();
        } catch {
          /* unknown */
        }
      }
    }
    const eff = (k: string) => maxConf(values.get(confKey('all', k)), values.get(confKey(l.ifname, k)));
    const primary = defaults.has(l.ifname);
    const container = opts.attached?.get(l.ifname) ?? null;
    const master = (l as Link & { master?: string }).master ?? null;
    nics.push({
      name: l.ifname,
      ifindex: l.ifindex,
      mac: l.address ? l.address.toLowerCase() : null,
      permanentMac,
      kind: kindOf(l),
      driver,
      bus: l.parentbus ?? null,
      parentDev: l.parentdev ?? null,
      pci: l.parentbus === 'pci' && l.parentdev ? l.parentdev : null,
      state: (l.operstate ?? 'unknown').toLowerCase(),
      up: l.flags.includes('UP'),
      mtu: l.mtu,
      addresses: globalAddresses(addrList.find((a) => a.ifindex === l.ifindex)),
      role: container ? 'attached' : primary ? 'primary' : 'secondary',
      primary,
      container,
      containerIfname: null,
      master,
      managedBy: [],
      arpIgnore: eff('arp_ignore'),
      arpAnnounce: eff('arp_announce'),
      rpFilter: eff('rp_filter'),
      linkType: l.link_type ?? null,
      noArp: l.flags.includes('NOARP'),
      parent: null,
      claims: [],
    });
  }
  if (opts.managers ?? true) {
    const claims = await detectManagers(nics, opts);
    for (const n of nics) {
      n.claims = claims.get(n.name) ?? [];
      n.managedBy = managerNames(n.claims);
    }
  }
  return nics;
}

/** The stable JSON form (drops the claim details). */
export function nicJson(n: NicDetail): NicInfo {
  const { claims: _claims, ...info } = n;
  return info;
}

/** What hostnic knows of a NIC it attached to a container (its record, and the link where it is now). */
export interface AttachedSource {
  /** Its name in the host. */
  name: string;
  /** The host ifindex it had (used when the link is not found). */
  ifindex: number;
  mac: string;
  permanentMac?: string | undefined;
  /** The link kind it had in the host (veth, macvlan); undefined for a physical NIC. */
  kind?: string | undefined;
  parentDev?: string | undefined;
  mtu: number;
  /** The container, as `hostnic status` names it. */
  container: string;
  /** The link inside the container, when it is there. */
  link?: Link | undefined;
  /** Its addresses there. */
  addresses?: string[];
  /** A macvlan child (attach --macvlan): its parent in the host. */
  parent?: string;
}


/**
 * A row for a NIC that is in a container: not in this namespace any more,
 * but the operator's all the same. Values come from the link inside the
 * container when it is there (ifindex, MAC, state and MTU there), else from
 * the record; host-side settings (managers, ARP sysctls) do not apply: null.
 */
export function attachedNic(a: AttachedSource): NicDetail {
  const l = a.link;
  return {
    // A macvlan child had no name in the host: its name in the container.
    name: a.parent ? l?.ifname ?? a.name : a.name,
    ifindex: l?.ifindex ?? a.ifindex,
    mac: (l?.address ?? a.mac).toLowerCase(),
    permanentMac: (l?.permaddr ?? a.permanentMac)?.toLowerCase() ?? null,
    kind: a.kind ?? 'physical',
    driver: null,
    bus: l?.parentbus ?? null,
    parentDev: l?.parentdev ?? a.parentDev ?? null,
    pci: (() => {
      const dev = l?.parentdev ?? a.parentDev;
      return dev && (l?.parentbus === 'pci' || PCI_ADDRESS.test(dev.toLowerCase())) ? dev : null;
    })(),
    state: l ? (l.operstate ?? 'unknown').toLowerCase() : 'unknown',
    up: l ? l.flags.includes('UP') : false,
    mtu: l?.mtu ?? a.mtu,
    addresses: a.addresses ?? [],
    role: a.parent ? 'macvlan-child' : 'attached',
    primary: false,
    container: a.container,
    containerIfname: l?.ifname ?? null,
    master: null,
    managedBy: [],
    arpIgnore: null,
    arpAnnounce: null,
    rpFilter: null,
    linkType: l?.link_type ?? null,
    noArp: l ? l.flags.includes('NOARP') : false,
    parent: a.parent ?? null,
    claims: [],
  };
}
