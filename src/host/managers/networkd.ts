/**
 * systemd-networkd: the links it manages, from its own answer (`networkctl`)
 * when it runs in the inspected namespace, else from its .network files and
 * whether it is enabled at boot.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { read } from '../../exec.js';
import { globMatch } from '../glob.js';
import { overlayFiles } from '../overlay.js';
import type { HostPaths } from '../paths.js';
import { programOf, type ProcInfo } from '../proc.js';
import { normMac, type Claims, type NicIdentity } from './types.js';

export interface NetworkFile {
  path: string;
  /** [Match] assignments, in order; an empty value resets the key's list. */
  match: [string, string][];
  unmanaged: boolean;
}

export function parseNetworkFile(path: string, text: string): NetworkFile {
  const match: [string, string][] = [];
  let unmanaged = false;
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!.trim();
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (section === 'Match') match.push([key, value]);
    else if (section === 'Link' && key === 'Unmanaged') unmanaged = /^(1|yes|true|on)$/i.test(value);
  }
  return { path, match, unmanaged };
}

/** The networkd `Type=` of a link (approximate: from its kind and link type). */
function networkdType(nic: NicIdentity): string {
  if (nic.kind === 'bridge') return 'bridge';
  if (nic.linkType === 'loopback') return 'loopback';
  return nic.linkType || 'ether';
}

/**
 * Does a [Match] section select the NIC? Name, MACAddress,
 * PermanentMACAddress, Type, Driver, Kind and Path are evaluated (Path only
 * for PCI addresses; otherwise it does not match); other conditions (Host,
 * Virtualization, ...) are taken as satisfied. No condition at all matches
 * every link, as networkd does.
 */
export function networkFileMatches(file: NetworkFile, nic: NicIdentity): boolean {
  const lists = new Map<string, string[]>();
  for (const [key, value] of file.match) {
    if (value === '') lists.delete(key);
    else lists.set(key, [...(lists.get(key) ?? []), ...value.split(/\s+/)]);
  }
  for (const [key, items] of lists) {
    const invert = items[0]?.startsWith('!') ?? false;
    const pats = items.map((p, i) => (i === 0 && invert ? p.slice(1) : p)).filter((p) => p !== '');
    let hit: boolean;
    switch (key) {
      case 'Name':
        hit = pats.some((p) => globMatch(p, nic.name));
        break;
      case 'MACAddress':
        hit = !!nic.mac && pats.some((p) => normMac(p) === normMac(nic.mac!));
        break;
      case 'PermanentMACAddress': {
        const perm = nic.permanentMac;
        hit = !!perm && pats.some((p) => normMac(p) === normMac(perm));
        break;
      }
      case 'Type':
        hit = pats.some((p) => globMatch(p, networkdType(nic)));
        break;
      case 'Driver':
        hit = !!nic.driver && pats.some((p) => globMatch(p, nic.driver!));
        break;
      case 'Kind':
        hit = nic.kind !== 'physical' && pats.some((p) => globMatch(p, nic.kind));
        break;
      case 'Path':
        hit = !!nic.pci && pats.some((p) => globMatch(p, `pci-${nic.pci}`));
        break;
      default:
        continue;
    }
    if (hit === invert) return false;
  }
  return true;
}

/** The .network files networkd would consider, in its order (see overlayFiles). */
export function networkFiles(dirs: readonly string[]): NetworkFile[] {
  return overlayFiles(dirs, '.network').flatMap((path) => {
    try {
      return [parseNetworkFile(path, readFileSync(path, 'utf8'))];
    } catch {
      return []; // unreadable: skip
    }
  });
}

/** The file networkd applies to the NIC (the first match), or undefined. */
export function networkFileFor(files: readonly NetworkFile[], nic: NicIdentity): NetworkFile | undefined {
  return files.find((f) => networkFileMatches(f, nic));
}

function networkdEnabled(systemdSystemDir: string): boolean {
  try {
    for (const d of readdirSync(systemdSystemDir)) {
      if (!d.endsWith('.wants')) continue;
      try {
        statSync(join(systemdSystemDir, d, 'systemd-networkd.service'));
        return true;
      } catch {
        /* not in this one */
      }
    }
  } catch {
    /* no such dir */
  }
  return false;
}

interface NetworkctlLink {
  Name?: string;
  AdministrativeState?: string;
  SetupState?: string;
  NetworkFile?: string;
}

async function networkctlLinks(): Promise<NetworkctlLink[] | null> {
  try {
    const text = await read({ argv: ['networkctl', 'list', '--json=short', '--no-pager'], timeoutMs: 10_000 });
    const data = JSON.parse(text) as { Interfaces?: NetworkctlLink[] };
    return Array.isArray(data.Interfaces) ? data.Interfaces : null;
  } catch {
    return null;
  }
}

export async function networkdClaims(
  nics: readonly NicIdentity[],
  procs: readonly ProcInfo[],
  paths: HostPaths,
  ask: boolean,
): Promise<Claims> {
  const running = procs.some((p) => p.comm === 'systemd-network' || programOf(p) === 'systemd-networkd');
  const out: Claims = [];
  if (running && ask) {
    const links = await networkctlLinks();
    if (links) {
      for (const nic of nics) {
        const l = links.find((x) => x.Name === nic.name);
        const state = l?.AdministrativeState ?? l?.SetupState;
        if (!l || !state || state === 'unmanaged') continue;
        out.push([nic.name, {
          manager: 'systemd-networkd',
          active: true,
          atBoot: true,
          state,
          ...(l.NetworkFile ? { file: l.NetworkFile } : {}),
          detail: `systemd-networkd: ${state}${l.NetworkFile ? ` by ${l.NetworkFile}` : ''}`,
        }]);
      }
      return out;
    }
  }
  const files = networkFiles(paths.networkdDirs);
  const enabled = running || networkdEnabled(paths.systemdSystemDir);
  for (const nic of nics) {
    const f = networkFileFor(files, nic);
    if (!f || f.unmanaged) continue;
    out.push([nic.name, {
      manager: 'systemd-networkd',
      active: running,
      atBoot: enabled,
      file: f.path,
      detail: `systemd-networkd: ${f.path} matches${running ? '' : enabled ? ' (networkd enabled, not running)' : ' (networkd not running)'}`,
    }]);
  }
  return out;
}
