/**
 * Sysctls as data: the live values of one network namespace (read by
 * kernel/ip.ts's readSysctls, the one reader), and the values the sysctl.d
 * files would set at boot. Keys are in slash form
 * (net/ipv4/conf/eth1.5/arp_ignore), so an interface name with a dot stays
 * one path component.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSysctls } from '../kernel/ip.js';
import { overlayFiles } from './overlay.js';

export interface SysctlReader {
  /** Values of the keys that exist (trimmed); missing keys are absent from the map. */
  get(keys: readonly string[]): Promise<Map<string, string>>;
}

/** Dots to slashes for a sysctl name written the dotted way; slash form stays. */
export function slashKey(key: string): string {
  return key.includes('/') ? key.replace(/^\/+/, '') : key.replace(/\./g, '/');
}

/** A reader for hostnic's own namespace (`netns` undefined) or another one, by path (kernel/ip.ts's readSysctls). */
export function sysctlReader(netns?: string): SysctlReader {
  return { get: (keys) => readSysctls(netns, keys) };
}

/** Effective value of a per-interface IPv4 setting the kernel combines as max(all, iface). */
export function maxConf(all: string | undefined, iface: string | undefined): number | null {
  const a = all === undefined ? NaN : Number(all);
  const i = iface === undefined ? NaN : Number(iface);
  if (Number.isNaN(a) && Number.isNaN(i)) return null;
  if (Number.isNaN(a)) return i;
  if (Number.isNaN(i)) return a;
  return Math.max(a, i);
}

export interface PersistedValue {
  value: string;
  file: string;
  line: number;
}

/**
 * What the sysctl.d files set for each key at boot, as systemd-sysctl reads
 * them: the *.conf files of the overlaid directories (overlayFiles), then
 * `sysctlConf` unless a 99-sysctl.conf stands for it; the last assignment wins.
 */
export function persistedSysctls(dirs: readonly string[], sysctlConf?: string): Map<string, PersistedValue> {
  const files = overlayFiles(dirs, '.conf');
  if (sysctlConf && !dirs.some((d) => existsSync(join(d, '99-sysctl.conf')))) files.push(sysctlConf);
  const out = new Map<string, PersistedValue>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const [i, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
      const eq = line.indexOf('=');
      if (eq < 0) continue;
      const key = slashKey(line.slice(0, eq).trim().replace(/^-/, ''));
      out.set(key, { value: line.slice(eq + 1).trim(), file, line: i + 1 });
    }
  }
  return out;
}
