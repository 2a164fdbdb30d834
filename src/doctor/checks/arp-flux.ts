/**
 * arp-flux: with two or more NICs that do ARP, arp_ignore=1 and
 * arp_announce=2, now (conf/all) and at boot (hostnic's sysctl.d file).
 */
import { HOSTNIC_FILES } from '../../host/paths.js';
import { join } from 'node:path';
import { confKey, type NicDetail } from '../../host/inventory.js';
import { persistedSysctls } from '../../host/sysctl.js';
import type { StepSpec } from '../../steps/types.js';
import { fileWriteStep, sysctlSetStep } from '../steps.js';
import type { Check, DoctorCheck, Fix, HostView } from '../types.js';
import { readText } from '../view.js';

/** hostnic's file in sysctl.d. */
export const SYSCTL_FILE = HOSTNIC_FILES.sysctl;

/** The values that stop ARP flux (the kernel applies the larger of conf/all and the NIC's own). */
export const ARP_WANT = { arp_ignore: 1, arp_announce: 2 } as const;

/**
 * The NICs that can take part in ARP flux: links that do ARP, are not a port
 * of a bridge or bond (their master answers for them), and are not a bridge
 * of containers only (docker0 and friends: no port but veths).
 */
export function arpCapable(nics: readonly NicDetail[]): NicDetail[] {
  return nics.filter((n) => {
    if (n.noArp || n.master) return false;
    if (n.kind !== 'bridge') return true;
    return nics.some((p) => p.master === n.name && p.kind !== 'veth');
  });
}

/**
 * The NICs ARP flux can hit now: NICs that do ARP (arpCapable) with
 * arp_ignore or arp_announce below ARP_WANT, when at least two do ARP.
 * `hostnic nics` marks these; this check fails or warns about them.
 */
export function arpFluxNics(nics: readonly NicDetail[]): NicDetail[] {
  const arpNics = arpCapable(nics);
  if (arpNics.length < 2) return [];
  return arpNics.filter((n) => (n.arpIgnore ?? 0) < ARP_WANT.arp_ignore || (n.arpAnnounce ?? 0) < ARP_WANT.arp_announce);
}

/**
 * The content of hostnic's sysctl.d file with `settings` (slash keys) set:
 * lines for other keys in an existing file are kept.
 */
export function sysctlFileContent(existing: string | undefined, settings: Record<string, string>): string {
  const ours = new Set(Object.keys(settings));
  const kept = (existing ?? '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .filter((l) => !ours.has(l.split('=')[0]!.trim().replace(/\./g, '/')));
  const lines = [
    '# Written by `hostnic doctor --fix`; `hostnic doctor --undo` restores what was here.',
    '# ARP flux: with several NICs on one network, answer ARP only for addresses of the',
    '# NIC the request came in on, and announce from the NIC that owns the address.',
    ...kept,
    ...Object.entries(settings).map(([k, v]) => `${k.replace(/\//g, '.')} = ${v}`),
  ];
  return `${lines.join('\n')}\n`;
}

interface Persistence {
  file: string;
  /** Keys our file should set (and does not yet). */
  write: Record<string, string>;
  /** Later files that set a key back below what we want. */
  overridden: { key: string; value: string; file: string; line: number }[];
}

function arpPersistence(view: HostView): Persistence {
  const file = join(view.paths.sysctlConfDir, SYSCTL_FILE);
  const dirs = [view.paths.sysctlConfDir, ...view.paths.sysctlDirs.filter((d) => d !== view.paths.sysctlConfDir)];
  const boot = persistedSysctls(dirs, view.paths.sysctlConf);
  const ourText = readText(file);
  const write: Record<string, string> = {};
  const overridden: Persistence['overridden'] = [];
  for (const [k, want] of Object.entries(ARP_WANT)) {
    const key = confKey('all', k);
    const p = boot.get(key);
    if (p && Number(p.value) >= want) continue;
    const oursHasIt = (ourText ?? '').split('\n').some((l) => {
      const [lk, lv] = l.split('=');
      return lk?.trim().replace(/\./g, '/') === key && Number(lv?.trim()) >= want;
    });
    if (oursHasIt && p) overridden.push({ key, value: p.value, file: p.file, line: p.line });
    else write[key] = String(want);
  }
  return { file, write, overridden };
}

/**
 * The fix: conf/all set now where a NIC is below ARP_WANT (`lowIgnore`,
 * `lowAnnounce`), and hostnic's sysctl.d file for the next boot; `manual`:
 * later sysctl.d lines that set a key back, for a person to remove.
 */
async function arpFix(view: HostView, lowIgnore: boolean, lowAnnounce: boolean): Promise<{ steps: StepSpec[]; manual: string[]; file: string }> {
  const keyI = confKey('all', 'arp_ignore');
  const keyA = confKey('all', 'arp_announce');
  const all = await view.sysctl.get([keyI, keyA]);
  const steps: StepSpec[] = [];
  if (Number(all.get(keyI) ?? 0) < ARP_WANT.arp_ignore && lowIgnore) steps.push(sysctlSetStep(view.netns, keyI, String(ARP_WANT.arp_ignore)));
  if (Number(all.get(keyA) ?? 0) < ARP_WANT.arp_announce && lowAnnounce) steps.push(sysctlSetStep(view.netns, keyA, String(ARP_WANT.arp_announce)));
  const persist = arpPersistence(view);
  if (Object.keys(persist.write).length) {
    const content = sysctlFileContent(readText(persist.file), { ...persist.write, [keyI]: '1', [keyA]: '2' });
    steps.push(fileWriteStep(persist.file, content, 'arp_ignore=1, arp_announce=2 at boot'));
  }
  const manual = persist.overridden.map((o) => `${o.file}:${o.line} sets ${o.key.replace(/\//g, '.')}=${o.value} after ${SYSCTL_FILE}: remove that line`);
  return { steps, manual, file: persist.file };
}

export async function checkArpFlux(view: HostView): Promise<Check> {
  const why =
    'With several NICs on one network, Linux by default answers ARP for any local address on any NIC ("ARP flux"): neighbours learn the wrong MAC for an address, and the cloud network, which drops frames from a MAC that does not own the address, loses the traffic. arp_ignore=1 answers only on the NIC that owns the address; arp_announce=2 uses that NIC\'s address in its own requests. The kernel applies the larger of conf/all and the NIC\'s own value.';
  const arpNics = arpCapable(view.nics);
  if (arpNics.length < 2) {
    return { id: 'arp-flux', verdict: 'ok', title: `Only ${arpNics.length} NIC that does ARP: no ARP flux possible`, why };
  }
  const lowIgnore = arpNics.filter((n) => (n.arpIgnore ?? 0) < ARP_WANT.arp_ignore);
  const lowAnnounce = arpNics.filter((n) => (n.arpAnnounce ?? 0) < ARP_WANT.arp_announce);
  const { steps, manual, file } = await arpFix(view, lowIgnore.length > 0, lowAnnounce.length > 0);
  const fix = (summary: string): Fix => ({ summary: [summary, ...manual].filter(Boolean).join('\n'), steps });

  if (lowIgnore.length) {
    return {
      id: 'arp-flux',
      verdict: 'fail',
      title: `ARP flux: ${lowIgnore.map((n) => n.name).join(', ')} answer ARP for any local address (arp_ignore=0)`,
      why,
      nics: lowIgnore.map((n) => n.name),
      fix: fix(`sysctl net.ipv4.conf.all.arp_ignore=1 and net.ipv4.conf.all.arp_announce=2 now, and in ${file} for the next boot`),
    };
  }
  if (lowAnnounce.length) {
    return {
      id: 'arp-flux',
      verdict: 'warn',
      title: `arp_announce below 2 on ${lowAnnounce.map((n) => n.name).join(', ')}`,
      why,
      nics: lowAnnounce.map((n) => n.name),
      fix: fix(`sysctl net.ipv4.conf.all.arp_announce=2 now, and in ${file} for the next boot`),
    };
  }
  if (steps.length || manual.length) {
    return {
      id: 'arp-flux',
      verdict: 'warn',
      title: 'arp_ignore/arp_announce are right now but not at boot: a reboot brings ARP flux back',
      why,
      fix: fix(steps.length ? `Persist them in ${file}` : ''),
    };
  }
  return { id: 'arp-flux', verdict: 'ok', title: 'arp_ignore=1 and arp_announce=2 on every NIC, now and at boot', why };
}

export const arpFlux: DoctorCheck = { id: 'arp-flux', run: checkArpFlux };
