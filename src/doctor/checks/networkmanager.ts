/**
 * networkmanager: NetworkManager manages a secondary NIC. The fix marks it
 * unmanaged now (nmcli) and in hostnic's conf.d file, matched by MAC so a
 * rename does not undo it.
 */
import { join } from 'node:path';
import { read } from '../../exec.js';
import type { NicDetail } from '../../host/inventory.js';
import { HOSTNIC_FILES, type HostPaths } from '../../host/paths.js';
import type { StepSpec } from '../../steps/types.js';
import { fileWriteStep, nmReloadStep, nmUnmanagedStep } from '../steps.js';
import type { Check, DoctorCheck, Fix, HostView } from '../types.js';
import { claimsOf, readText } from '../view.js';

/** hostnic's file in NetworkManager's conf.d. */
export const NM_FILE = HOSTNIC_FILES.nm;

/** How hostnic's NetworkManager file names a NIC: by MAC for a physical NIC (a rename keeps it), by name for a virtual one (its MAC is random, and NetworkManager matches `mac:` against the permanent MAC only). */
export function nmDeviceSpec(nic: Pick<NicDetail, 'kind' | 'name' | 'mac' | 'permanentMac'>): string {
  const mac = nic.permanentMac ?? nic.mac;
  return nic.kind === 'physical' && mac ? `mac:${mac}` : `interface-name:${nic.name}`;
}

/** Split a NetworkManager device-spec list (',' or ';', backslash escapes). */
export function splitSpecs(list: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < list.length; i++) {
    const ch = list[i]!;
    if (ch === '\\' && i + 1 < list.length) cur += list[++i]!;
    else if (ch === ',' || ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Specs in hostnic's own NetworkManager file (from its `unmanaged-devices+=` line). */
export function nmFileSpecs(text: string | undefined): string[] {
  const m = /^\s*unmanaged-devices\s*\+=\s*(.*)$/m.exec(text ?? '');
  return m ? splitSpecs(m[1]!) : [];
}

/**
 * hostnic's conf.d file. It appends (`+=`) to the admin's list rather than
 * replacing it. A list of only `except:` specs means "every device but
 * these"; adding a positive spec would turn it into "only these", so then a
 * `*` goes first and the meaning of the admin's list is kept.
 */
export function nmFileContent(specs: string[], adminList: string[]): string {
  const onlyNegative = adminList.length > 0 && adminList.every((s) => s.startsWith('except:'));
  const list = [...(onlyNegative ? ['*'] : []), ...specs].join(';');
  return [
    '# Written by `hostnic doctor --fix`; `hostnic doctor --undo` removes it.',
    '# NetworkManager leaves these NICs alone: hostnic hands them to containers.',
    '[keyfile]',
    `unmanaged-devices+=${list}`,
    '',
  ].join('\n');
}

/** NetworkManager's merged `[keyfile] unmanaged-devices` (its own `--print-config`), or [] when unknown. */
export async function nmUnmanagedList(paths: HostPaths): Promise<string[]> {
  try {
    const text = await read({
      argv: ['NetworkManager', '--print-config', `--config=${paths.nmConfFile}`, `--config-dir=${paths.nmConfDir}`, `--system-config-dir=${paths.nmSystemConfDir}`],
      timeoutMs: 10_000,
    });
    let section = '';
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      const sec = /^\[(.+)\]$/.exec(line);
      if (sec) section = sec[1]!;
      else if (section === 'keyfile' && line.startsWith('unmanaged-devices=')) return splitSpecs(line.slice('unmanaged-devices='.length));
    }
  } catch {
    /* no NetworkManager binary */
  }
  return [];
}

/**
 * The fix for the NICs NetworkManager manages: `nm.managed` first (it
 * captures whether NetworkManager managed the NIC before anything changed;
 * after the conf.d file it would read "no", and its undo would leave the NIC
 * unmanaged), then the conf.d file between two reloads when it changes.
 */
async function nmFix(view: HostView, managed: readonly NicDetail[]): Promise<Fix> {
  const file = join(view.paths.nmConfDir, NM_FILE);
  const existing = readText(file);
  const before = nmFileSpecs(existing);
  const specs = [...new Set([...before, ...managed.map(nmDeviceSpec)])].filter((s) => s !== '*');
  const ours = new Set([...before, '*']);
  const adminList = (await nmUnmanagedList(view.paths)).filter((s) => !ours.has(s));
  const content = nmFileContent(specs, adminList);
  const steps: StepSpec[] = managed.map((n) => nmUnmanagedStep(n.name));
  if (content !== existing) steps.push(nmReloadStep('before'), fileWriteStep(file, content, `unmanaged-devices+=${specs.join(';')}`), nmReloadStep('after'));
  return {
    summary: `${managed.map((n) => `nmcli device set ${n.name} managed no`).join('; ')}; write ${file} with unmanaged-devices+=${specs.join(';')}; nmcli general reload conf`,
    steps,
  };
}

export async function checkNetworkManager(view: HostView): Promise<Check> {
  const why =
    'NetworkManager takes a new NIC: it runs DHCP on it, adds addresses and routes, and may take it back when it changes. hostnic does not stop or remove NetworkManager; it marks the NIC unmanaged, now (nmcli) and in a conf.d file matched by MAC, so a rename does not undo it.';
  const managed = view.candidates.filter((n) => claimsOf(n, 'NetworkManager').some((c) => c.active));
  const skipped = view.skippedPrimary.length ? ` (${view.skippedPrimary.join(', ')} carries the default route: left alone)` : '';
  if (managed.length === 0) {
    return { id: 'networkmanager', verdict: 'ok', title: `NetworkManager manages no secondary NIC${skipped}`, why };
  }
  return {
    id: 'networkmanager',
    verdict: 'fail',
    title: `NetworkManager manages ${managed.map((n) => `${n.name} (${claimsOf(n, 'NetworkManager')[0]!.state})`).join(', ')}${skipped}`,
    why,
    nics: managed.map((n) => n.name),
    fix: await nmFix(view, managed),
  };
}

export const networkManager: DoctorCheck = { id: 'networkmanager', run: checkNetworkManager };
