/**
 * systemd-networkd: a .network file makes networkd configure a secondary NIC
 * (now, or at boot). The fix writes hostnic's own .network file for the NIC,
 * sorting first, with Unmanaged=yes.
 */
import { HOSTNIC_FILES } from '../../host/paths.js';
import { basename, join } from 'node:path';
import type { NicDetail } from '../../host/inventory.js';
import { networkFileMatches, networkFiles } from '../../host/managers/networkd.js';
import type { StepSpec } from '../../steps/types.js';
import { fileWriteStep, networkdReloadStep } from '../steps.js';
import type { Check, DoctorCheck, Fix, HostView } from '../types.js';
import { claimsOf, readText } from '../view.js';

/** hostnic's .network files are named 00-hostnic-<MAC or name>.network. */
export const NETWORKD_PREFIX = HOSTNIC_FILES.networkdPrefix;

/** hostnic's .network file for a NIC: sorts before the usual 10-/50-/80-/99- files, so it is the one networkd applies. */
export function networkdFile(nic: Pick<NicDetail, 'kind' | 'name' | 'mac' | 'permanentMac'>, dir: string): { path: string; content: string } {
  const mac = nic.permanentMac ?? nic.mac;
  const byMac = nic.kind === 'physical' && !!mac;
  const id = byMac ? mac!.replace(/:/g, '') : nic.name;
  const match = byMac ? (nic.permanentMac ? `PermanentMACAddress=${nic.permanentMac}` : `MACAddress=${mac}`) : `Name=${nic.name}`;
  const content = [
    '# Written by `hostnic doctor --fix`; `hostnic doctor --undo` removes it.',
    '# systemd-networkd leaves this NIC alone: hostnic hands it to a container.',
    '[Match]',
    match,
    '',
    '[Link]',
    'Unmanaged=yes',
    '',
  ].join('\n');
  return { path: join(dir, `${NETWORKD_PREFIX}${id}.network`), content };
}

/**
 * The fix for the claimed NICs: hostnic's .network file for each (where it
 * differs), between two `networkctl reload`s when networkd runs (one that
 * does not run reads them when it starts); `manual`: files that sort before
 * ours and match the NIC, for a person to rename or narrow.
 */
function networkdFix(view: HostView, claimed: readonly NicDetail[], active: boolean): Fix {
  const files = networkFiles([view.paths.networkdConfDir, ...view.paths.networkdDirs.filter((d) => d !== view.paths.networkdConfDir)]);
  const steps: StepSpec[] = [];
  const written: string[] = [];
  const manual: string[] = [];
  for (const n of claimed) {
    const f = networkdFile(n, view.paths.networkdConfDir);
    if (readText(f.path) !== f.content) {
      steps.push(fileWriteStep(f.path, f.content, `Unmanaged=yes for ${n.name}`));
      written.push(f.path);
    }
    const earlier = files.filter((x) => basename(x.path) < basename(f.path) && networkFileMatches(x, n));
    for (const e of earlier) manual.push(`${e.path} sorts before ${basename(f.path)} and matches ${n.name}: rename or narrow it`);
  }
  if (active && steps.length) {
    steps.unshift(networkdReloadStep('before'));
    steps.push(networkdReloadStep('after'));
  }
  return {
    summary: [`Write ${written.join(', ') || 'the .network files'} with [Link] Unmanaged=yes${active ? ', then `networkctl reload`' : ' (networkd reads them when it starts)'}`, ...manual].join('\n'),
    steps,
  };
}

export function checkNetworkd(view: HostView): Check {
  const why =
    'systemd-networkd configures every link a .network file matches: DHCP, addresses, and it takes the NIC back when it changes. A .network file that sorts first and matches the NIC with Unmanaged=yes makes networkd leave it alone.';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'systemd-networkd').some((c) => c.active || c.atBoot));
  if (claimed.length === 0) return { id: 'systemd-networkd', verdict: 'ok', title: 'systemd-networkd manages no secondary NIC', why };
  const active = claimed.some((n) => claimsOf(n, 'systemd-networkd').some((c) => c.active));
  return {
    id: 'systemd-networkd',
    verdict: active ? 'fail' : 'warn',
    title: `systemd-networkd ${active ? 'manages' : 'would manage at boot'}: ${claimed.map((n) => `${n.name} (${claimsOf(n, 'systemd-networkd')[0]!.detail.replace(/^systemd-networkd: /, '')})`).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: networkdFix(view, claimed, active),
  };
}

export const systemdNetworkd: DoctorCheck = { id: 'systemd-networkd', run: checkNetworkd };
