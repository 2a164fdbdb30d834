/**
 * netplan: YAML lines that select the NIC. netplan generates NetworkManager
 * or systemd-networkd configuration from them at every boot.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { globMatch } from '../glob.js';
import { overlayFiles } from '../overlay.js';
import type { HostPaths } from '../paths.js';
import { normMac, type Claims, type NicIdentity } from './types.js';

export interface NetplanMention {
  file: string;
  line: number;
  text: string;
}

/**
 * Lines of a netplan YAML file that select the NIC: its name as a key
 * (`eth1:`), `set-name: eth1`, `macaddress: <its MAC>`, or a `name:` glob
 * that matches it. A text scan, not a YAML parser: good enough to point at
 * the line to change.
 */
export function netplanMentions(text: string, file: string, nic: NicIdentity): NetplanMention[] {
  const out: NetplanMention[] = [];
  const macs = [nic.mac, nic.permanentMac].filter((m): m is string => !!m).map(normMac);
  const unq = (v: string) => v.trim().replace(/^(["'])(.*)\1$/, '$2');
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\s+#.*$/, '');
    const t = line.trim();
    if (t === '' || t.startsWith('#')) continue;
    let hit = false;
    const key = /^\s+(["']?)([^\s:"']+)\1:\s*$/.exec(line);
    if (key && key[2] === nic.name) hit = true;
    const kv = /^\s*-?\s*([A-Za-z-]+):\s*(.+)$/.exec(line);
    if (kv) {
      const k = kv[1]!;
      const v = unq(kv[2]!);
      if (k === 'set-name' && v === nic.name) hit = true;
      if (k === 'macaddress' && macs.includes(normMac(v))) hit = true;
      if (k === 'name' && globMatch(v, nic.name)) hit = true;
    }
    if (hit) out.push({ file, line: i + 1, text: t });
  }
  return out;
}

export function netplanClaims(nics: readonly NicIdentity[], paths: HostPaths): Claims {
  const files: [string, string][] = [];
  for (const f of overlayFiles(paths.netplanDirs, '.yaml')) {
    try {
      files.push([f, readFileSync(f, 'utf8')]);
    } catch {
      /* unreadable */
    }
  }
  const out: Claims = [];
  for (const nic of nics) {
    const m = files.flatMap(([f, text]) => netplanMentions(text, f, nic));
    if (m.length === 0) continue;
    out.push([nic.name, {
      manager: 'netplan',
      active: false,
      atBoot: true,
      file: m[0]!.file,
      line: m[0]!.line,
      detail: `netplan: ${m.map((x) => `${basename(x.file)}:${x.line}: ${x.text}`).join('; ')}`,
    }]);
  }
  return out;
}
