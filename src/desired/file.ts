/**
 * STAND-IN for branch `desired` (issue 13, sections 1-2), so that `hostnic
 * watch` compiles and its tests run before that branch lands. On merge the
 * lead takes `desired`'s file.ts in place of this one; watch uses only what
 * the contract names: loadDesired(path) → { path, entries: [{ line,
 * container, ... }] }, a HostnicError (exit 2, `FILE:LINE: ...`) for a bad
 * file, and the default path.
 *
 * This stand-in reads the JSON form of the file only (JSON is YAML), with
 * the command line's parsers; no YAML library, no line numbers beyond 1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import { parseAttachRequest } from '../request/parse.js';
import type { AttachRequest } from '../request/types.js';

export interface DesiredEntry {
  line: number;
  index: number;
  container: string;
  nic: string;
  request: AttachRequest;
}

export interface Desired {
  path: string;
  entries: DesiredEntry[];
}

/** /etc/hostnic/attachments.yaml, under HOSTNIC_CONFIG_ROOT when set. */
export function defaultDesiredPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOSTNIC_CONFIG_ROOT || '/', 'etc/hostnic/attachments.yaml');
}

export function loadDesired(path: string): Desired {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = text.trim() === '' ? {} : JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}:1: not valid: ${(e as Error).message}`);
  }
  const list = (doc as { attachments?: unknown }).attachments ?? [];
  if (!Array.isArray(list)) throw new UsageError(`${path}:1: "attachments" must be a list of entries`);
  const entries = list.map((raw: Record<string, unknown>, index): DesiredEntry => {
    const str = (k: string): string | undefined => (raw[k] === undefined ? undefined : String(raw[k]));
    const arr = (k: string): string[] => (Array.isArray(raw[k]) ? (raw[k] as unknown[]).map(String) : []);
    try {
      const request = parseAttachRequest({
        container: str('container') ?? '', nic: str('nic') ?? '', addresses: arr('addresses'),
        name: str('name'), mac: str('mac'), mtu: str('mtu'), routes: arr('routes'), force: false,
      });
      return { line: 1, index, container: str('container')!, nic: str('nic')!, request };
    } catch (e) {
      throw new UsageError(`${path}:1: entry ${index + 1}: ${(e as Error).message}`);
    }
  });
  return { path, entries };
}
