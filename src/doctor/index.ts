/**
 * The doctor's checks, in the order `doctor` prints them. A check is one
 * module under checks/ (the check and its fix side by side); adding one is
 * that module and a line here.
 */
import { arpFlux } from './checks/arp-flux.js';
import { dhcpClient } from './checks/dhcp-client.js';
import { dockerOverlap } from './checks/docker-overlap.js';
import { ifupdown } from './checks/ifupdown.js';
import { netplan } from './checks/netplan.js';
import { networkManager } from './checks/networkmanager.js';
import { privileges } from './checks/privileges.js';
import { rpFilter } from './checks/rp-filter.js';
import { systemdNetworkd } from './checks/systemd-networkd.js';
import { tools } from './checks/tools.js';
import { unfinishedPlans } from './checks/unfinished-plans.js';
import type { Check, DoctorCheck, DoctorOptions, HostView } from './types.js';
import { inspectHost } from './view.js';

export type { Check, DoctorOptions, Fix, HostView, Verdict } from './types.js';
export { inspectHost } from './view.js';

export const CHECKS: readonly DoctorCheck[] = [
  privileges,
  tools,
  unfinishedPlans,
  arpFlux,
  rpFilter,
  networkManager,
  systemdNetworkd,
  ifupdown,
  dhcpClient,
  netplan,
  dockerOverlap,
];

/**
 * Run every check (side by side), results in registry order. A check that
 * crashes becomes a warning. `view`: what inspectHost(opts) returned, when
 * the caller has it.
 */
export async function runChecks(opts: DoctorOptions = {}, view?: HostView): Promise<Check[]> {
  const v = view ?? (await inspectHost(opts));
  const results = await Promise.all(CHECKS.map(async (c): Promise<Check | null> => {
    try {
      return await c.run(v, opts);
    } catch (e) {
      return { id: c.id, verdict: 'warn', title: `${c.id}: could not check`, why: (e as Error).message };
    }
  }));
  return results.filter((c): c is Check => c !== null);
}
