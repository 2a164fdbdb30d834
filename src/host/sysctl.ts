/**
 * Sysctls as data: the live values of one network namespace, and the values
 * the sysctl.d files would set at boot.
 *
 * /proc/sys/net shows the namespace of the process that opens it, so the
 * live values of hostnic's own namespace are plain file reads; another
 * namespace is read with one `nsenter --net=NS grep -H '' FILE...` for all
 * keys at once. Keys are in slash form (net/ipv4/conf/eth1.5/arp_ignore), so
 * an interface name with a dot stays one path component.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { read } from '../exec.js';
import { overlayFiles } from './overlay.js';

export interface SysctlReader {
  /** Values of the keys that exist (trimmed); missing keys are absent from the map. */
  get(keys: readonly string[]): Promise<Map<string, string>>;
}

/** Dots to slashes for a sysctl name written the dotted way; slash form stays. */
export function slashKey(key: string): string {
  return key.includes('/') ? key.replace(/^\/+/, '') : key.replace(/\./g, '/');
}

/** A reader for hostnic's own namespace (`netns` undefined) or another one, by path. */
export function sysctlReader(netns?: string): SysctlReader {
  if (!netns) {
    return {
      async get(keys) {
        const out = new Map<string, string>();
        for (const key of keys) {
          try {
            out.set(key, readFileSync(`/proc/sys/${key}`, 'utf8').trim());
          } catch {
            /* no such key (the interface is gone, or not IPv4) */
          }
        }
        return out;
      },
    };
  }
  return {
    async get(keys) {
      const out = new Map<string, string>();
      if (keys.length === 0) return out;
      const files = keys.map((k) => `/proc/sys/${k}`);
      // grep exits 2 when a file is missing; those keys are simply absent.
      const text = await read({ argv: ['grep', '-H', '', ...files], netns, tolerate: /No such file or directory/ });
      for (const line of text.split('\n')) {
        for (const [i, file] of files.entries()) {
          if (line.startsWith(`${file}:`)) out.set(keys[i]!, line.slice(file.length + 1).trim());
        }
      }
      return out;
    },
  };
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
