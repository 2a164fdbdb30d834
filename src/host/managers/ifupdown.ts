/**
 * ifupdown: /etc/network/interfaces (and interfaces.d) lines that name the
 * NIC, and whether ifupdown brought it up (its run directory).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { HostPaths } from '../paths.js';
import type { Claims, NicIdentity } from './types.js';

export interface IfupdownEntry {
  file: string;
  line: number;
  /** auto, allow-hotplug, allow-auto, allow-<class>, iface */
  keyword: string;
  text: string;
}

const IGNORED_CONF = /(^\.|~$|\.dpkg-(old|new|dist|bak|tmp)$|\.(bak|orig|swp)$)/;

/** Lines of /etc/network/interfaces (and interfaces.d) that name the interface. */
export function ifupdownEntries(text: string, file: string, name: string): IfupdownEntry[] {
  const out: IfupdownEntry[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    const kw = words[0]!;
    if (kw === 'auto' || kw.startsWith('allow-')) {
      if (words.slice(1).includes(name)) out.push({ file, line: i + 1, keyword: kw, text: line });
    } else if (kw === 'iface' && words[1] === name) {
      out.push({ file, line: i + 1, keyword: kw, text: line });
    }
  }
  return out;
}

function ifupdownSources(paths: HostPaths): [string, string][] {
  const files = [paths.ifupdownFile];
  try {
    for (const n of readdirSync(paths.ifupdownDir).sort()) if (!IGNORED_CONF.test(n)) files.push(join(paths.ifupdownDir, n));
  } catch {
    /* no interfaces.d */
  }
  const out: [string, string][] = [];
  for (const f of files) {
    try {
      out.push([f, readFileSync(f, 'utf8')]);
    } catch {
      /* missing */
    }
  }
  return out;
}

function ifupdownUp(runDir: string, name: string): boolean {
  try {
    const text = readFileSync(join(runDir, 'ifstate'), 'utf8');
    if (text.split('\n').some((l) => l.split('=')[0]?.trim() === name)) return true;
  } catch {
    /* older or newer layout */
  }
  try {
    return readFileSync(join(runDir, `ifstate.${name}`), 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

export function ifupdownClaims(nics: readonly NicIdentity[], paths: HostPaths): Claims {
  const sources = ifupdownSources(paths);
  const out: Claims = [];
  if (sources.length === 0) return out;
  for (const nic of nics) {
    const entries = sources.flatMap(([file, text]) => ifupdownEntries(text, file, nic.name));
    if (entries.length === 0) continue;
    const starts = entries.filter((e) => e.keyword !== 'iface');
    const first = starts[0] ?? entries[0]!;
    out.push([nic.name, {
      manager: 'ifupdown',
      active: ifupdownUp(paths.ifupdownRunDir, nic.name),
      atBoot: starts.length > 0,
      file: first.file,
      line: first.line,
      detail: `ifupdown: ${entries.map((e) => `${e.file}:${e.line}: ${e.text}`).join('; ')}`,
    }]);
  }
  return out;
}
