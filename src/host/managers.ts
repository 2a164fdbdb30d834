/**
 * Who else configures a NIC: NetworkManager, systemd-networkd, ifupdown, a
 * running DHCP client, netplan (one module each under managers/). Each
 * finding is a claim with where it comes from (a file and line, a process, a
 * daemon's answer), so `doctor` can say exactly what to change.
 *
 * Daemons are asked only when their process runs in the inspected namespace:
 * a NetworkManager of another namespace sees other links (and a daemon that
 * is not running is not asked, so nothing can hang on D-Bus activation).
 */
import { dhcpClaims } from './managers/dhcp.js';
import { ifupdownClaims } from './managers/ifupdown.js';
import { netplanClaims } from './managers/netplan.js';
import { networkdClaims } from './managers/networkd.js';
import { nmClaims } from './managers/networkmanager.js';
import type { ManagerClaim, NicIdentity } from './managers/types.js';
import { hostPaths, type HostPaths } from './paths.js';
import { inNamespace, listProcesses, targetNetnsInode } from './proc.js';

export type { ManagerClaim, ManagerName, NicIdentity } from './managers/types.js';

export interface ManagerOptions {
  /** Inspect this namespace (a path) instead of hostnic's own. */
  netns?: string;
  paths?: Partial<HostPaths>;
  /** Ask nmcli / networkctl when their daemon runs (default true); false: files and /proc only. */
  askDaemons?: boolean;
}

/** The names (in order, unique) of the managers that act on a NIC now or at boot. */
export function managerNames(claims: readonly ManagerClaim[]): string[] {
  return [...new Set(claims.filter((c) => c.active || c.atBoot).map((c) => c.manager))];
}

/** Every manager's claims on the NICs, by NIC name (in the order of the managers above). */
export async function detectManagers(nics: readonly NicIdentity[], opts: ManagerOptions = {}): Promise<Map<string, ManagerClaim[]>> {
  const paths = hostPaths(opts.paths);
  const ask = opts.askDaemons ?? true;
  const procs = inNamespace(listProcesses(paths.proc), targetNetnsInode(opts.netns, paths.proc));
  const found = [
    ...(await nmClaims(nics, procs, ask)),
    ...(await networkdClaims(nics, procs, paths, ask)),
    ...ifupdownClaims(nics, paths),
    ...dhcpClaims(nics, procs),
    ...netplanClaims(nics, paths),
  ];
  const out = new Map<string, ManagerClaim[]>(nics.map((n) => [n.name, []]));
  for (const [name, c] of found) out.get(name)?.push(c);
  return out;
}
