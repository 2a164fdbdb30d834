/**
 * NetworkManager: which devices it manages, from its own answer
 * (`nmcli device status`), asked only when it runs in the inspected namespace.
 */
import { read } from '../../exec.js';
import { programOf, type ProcInfo } from '../proc.js';
import type { Claims, NicIdentity } from './types.js';

export interface NmDevice {
  device: string;
  state: string;
  connection: string;
}

/** Split one line of `nmcli -t` output: fields separated by ':', with '\:' and '\\' escaped. */
export function splitTerse(line: string): string[] {
  const fields: string[] = [];
  let cur = '';
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === '\\' && i + 1 < line.length) {
      cur += line[++i]!;
    } else if (ch === ':') {
      fields.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  fields.push(cur);
  return fields;
}

export function parseNmcliStatus(text: string): NmDevice[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [device = '', state = '', connection = ''] = splitTerse(l);
      return { device, state, connection };
    });
}

/**
 * Does this `nmcli device status` state mean NetworkManager acts on the
 * device? `unavailable` (no carrier yet) and `disconnected` count: it takes
 * the NIC as soon as a cable or a profile appears. `unmanaged` does not, nor
 * "connected (externally)": NetworkManager only watches a configuration made
 * by someone else.
 */
export function nmStateManages(state: string): boolean {
  const s = state.trim().toLowerCase();
  if (s === '' || s === 'unmanaged') return false;
  if (s.includes('externally')) return false;
  return true;
}

/** NetworkManager's devices, or null when nmcli is missing or NetworkManager does not answer. */
export async function nmDevices(): Promise<NmDevice[] | null> {
  try {
    const text = await read({ argv: ['nmcli', '-t', '-f', 'DEVICE,STATE,CONNECTION', 'device', 'status'], timeoutMs: 10_000 });
    return parseNmcliStatus(text);
  } catch {
    return null;
  }
}


export async function nmClaims(nics: readonly NicIdentity[], procs: readonly ProcInfo[], ask: boolean): Promise<Claims> {
  const running = procs.some((p) => programOf(p) === 'NetworkManager' || p.comm === 'NetworkManager');
  if (!running || !ask) return [];
  const names = new Set(nics.map((n) => n.name));
  const out: Claims = [];
  for (const d of (await nmDevices()) ?? []) {
    if (!names.has(d.device) || !nmStateManages(d.state)) continue;
    out.push([d.device, {
      manager: 'NetworkManager',
      active: true,
      atBoot: false,
      state: d.state,
      connection: d.connection,
      detail: `NetworkManager: ${d.state}${d.connection ? `, connection "${d.connection}"` : ''}`,
    }]);
  }
  return out;
}
