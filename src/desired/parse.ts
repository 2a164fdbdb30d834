/**
 * The desired-state file's text → its entries, each a checked AttachRequest
 * with the line it came from. Pure (no I/O): the same validation as the
 * command line (src/request/), and every problem is one UsageError (exit 2)
 * reading `FILE:LINE: what is wrong`.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import { HostnicError, UsageError } from '../errors.js';
import { parseAttachRequest, parseRoute, parseTarget } from '../request/parse.js';
import { q } from '../request/text.js';
import type { AttachRequest, NicSelector } from '../request/types.js';
import { describeTarget } from '../runtime/resolve.js';
import { ENTRY_KEYS, REQUIRED_KEYS, type EntryKey } from './schema.js';

/** One entry of the file, as written and as parsed. */
export interface DesiredEntry {
  /** The line of the entry's first key (1-based). */
  line: number;
  /** Its position in the list (0-based). */
  index: number;
  /** The container as the file names it (`docker:web`): watch and apply --container match on it. */
  container: string;
  /** The NIC as the file names it. */
  nic: string;
  request: AttachRequest;
}

export interface Desired {
  path: string;
  entries: DesiredEntry[];
}

/** The one key a NIC selector names (for "one NIC in two entries"). */
export const selectorText = (s: NicSelector): string => (s.kind === 'name' ? s.name : s.kind === 'mac' ? `mac:${s.mac}` : `pci:${s.address}`);

/** The container as one spelling (docker:web and DOCKER:web are one container). */
export const containerKey = (container: string): string => describeTarget(parseTarget(container));

export function parseDesiredText(text: string, path: string): Desired {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const at = (node: { range?: [number, number, number] | null } | null | undefined): number =>
    (node?.range ? lines.linePos(node.range[0]).line : 1);
  const bad = (line: number, what: string): never => {
    throw new UsageError(`${path}:${line}: ${what}`, 'see `hostnic schema` and README.md, "The desired-state file"');
  };
  const err = doc.errors[0];
  if (err) bad(err.linePos?.[0].line ?? 1, `not valid YAML: ${(err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '')}`);
  return { path, entries: entriesOf(doc, at, bad) };
}

type At = (node: { range?: [number, number, number] | null } | null | undefined) => number;
type Bad = (line: number, what: string) => never;

function entriesOf(doc: Document, at: At, bad: Bad): DesiredEntry[] {
  const top = doc.contents;
  if (top === null || (isScalar(top) && top.value === null)) return []; // an empty file wants nothing
  if (!isMap(top)) return bad(at(top), 'the file must be a mapping with one key, "attachments"');
  for (const pair of top.items) {
    const key = keyText(pair);
    if (key !== 'attachments') bad(at(pair.key as Node), `unknown key ${q(key)} (the file has one key, "attachments")`);
  }
  const list = top.get('attachments', true) as Node | undefined;
  if (list === undefined || (isScalar(list) && list.value === null)) return [];
  if (!isSeq(list)) return bad(at(list), '"attachments" must be a list of entries');
  const entries = list.items.map((item, index) => entryOf(item as Node, index, at, bad));
  // One NIC, one place: two entries moving one NIC would fight over it. A macvlan parent stays: one child per container.
  const byNic = new Map<string, DesiredEntry>();
  const byName = new Map<string, DesiredEntry>();
  for (const e of entries) {
    const nic = selectorText(e.request.nic);
    const key = e.request.macvlan ? `${nic} macvlan ${containerKey(e.container)}` : nic;
    const other = byNic.get(key);
    if (other) bad(e.line, `NIC ${nic} is also ${e.request.macvlan ? `given as a macvlan parent to ${e.container}` : 'moved'} by the entry at line ${other.line}: ${e.request.macvlan ? 'one child per container and parent' : 'one NIC can be in one container only'}`);
    byNic.set(key, e);
    const clash = entries.find((o) => o !== e && !!o.request.macvlan !== !!e.request.macvlan && selectorText(o.request.nic) === nic);
    if (clash && !e.request.macvlan) bad(e.line, `NIC ${nic} is moved by this entry and is a macvlan parent in the entry at line ${clash.line}: a parent stays in the host`);
    if (e.request.name !== undefined) {
      const key = `${containerKey(e.container)} ${e.request.name}`;
      const twin = byName.get(key);
      if (twin) bad(e.line, `${e.container} gets two interfaces named ${e.request.name} (this entry and the one at line ${twin.line})`);
      byName.set(key, e);
    }
  }
  return entries;
}

function keyText(pair: Pair): string {
  return isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
}

function entryOf(item: Node, index: number, at: At, bad: Bad): DesiredEntry {
  if (!isMap(item)) return bad(at(item), `entry ${index + 1} must be a mapping (container:, nic:, ...)`);
  const line = at(item);
  const values: Partial<Record<EntryKey, { node: Node; value: unknown }>> = {};
  for (const pair of item.items) {
    const key = keyText(pair);
    if (!(ENTRY_KEYS as readonly string[]).includes(key)) {
      bad(at(pair.key as Node), `unknown key ${q(key)} (an entry has ${ENTRY_KEYS.join(', ')})`);
    }
    const node = pair.value as Node;
    values[key as EntryKey] = { node, value: isScalar(node) ? node.value : node?.toJSON() };
  }
  for (const k of REQUIRED_KEYS) if (!values[k] || values[k].value === null) bad(line, `the entry has no ${k}:`);
  // Each value with the command line's own parser, at its own line.
  const str = (k: EntryKey): string | undefined => {
    const v = values[k];
    if (!v || v.value === null || v.value === undefined) return undefined;
    if (typeof v.value !== 'string') bad(at(v.node), `${k}: must be a string`);
    return v.value as string;
  };
  const list = (k: 'addresses' | 'routes'): string[] => {
    const v = values[k];
    if (!v || v.value === null) return [];
    if (!isSeq(v.node)) bad(at(v.node), `${k}: must be a list, e.g. [${k === 'addresses' ? '192.168.1.4/24@192.168.1.1' : '10.0.0.0/8@192.168.1.254'}]`);
    return (v.node as { items: Node[] }).items.map((n) => {
      if (!isScalar(n) || typeof n.value !== 'string') return bad(at(n), `${k}: each item must be a string`);
      return n.value;
    });
  };
  const container = str('container')!;
  const nic = str('nic')!;
  const mtuValue = values.mtu?.value;
  const mv = values.macvlan?.value;
  if (mv !== undefined && mv !== null && typeof mv !== 'boolean' && typeof mv !== 'string') bad(at(values.macvlan!.node), 'macvlan: must be true, false or a mode (bridge, private, vepa)');
  const macvlan = mv === true || typeof mv === 'string' ? { macvlan: true, ...(typeof mv === 'string' ? { macvlanMode: mv } : {}) } : {};
  if (mtuValue !== undefined && mtuValue !== null && typeof mtuValue !== 'number') bad(at(values.mtu!.node), 'mtu: must be a number');
  const input = {
    container, nic, addresses: list('addresses'), routes: list('routes'),
    name: str('name'), mac: str('mac'), ...(typeof mtuValue === 'number' ? { mtu: mtuValue } : {}), ...macvlan,
  };
  // dhcp-timeout: the command line's --dhcp-timeout, said in the file's own words.
  const timeout = values['dhcp-timeout'];
  if (timeout && timeout.value !== null) {
    const t = timeout.value;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > 3600) bad(at(timeout.node), 'dhcp-timeout: must be a whole number of seconds, 1..3600');
    if (!input.addresses.some((a) => /^dhcp/i.test(a))) bad(at(timeout.node), 'dhcp-timeout: is given without "dhcp" among the addresses');
    Object.assign(input, { dhcpTimeout: t as number });
  }
  const keyLine = (k: EntryKey): number => at(values[k]?.node ?? item);
  const itemLine = (k: 'addresses' | 'routes', i: number): number => {
    const seq = values[k]?.node as { items?: Node[] } | undefined;
    return at(seq?.items?.[i] ?? values[k]?.node ?? item);
  };
  // Which value is wrong decides the line: each alone first, then the combination at the entry.
  try {
    parseAttachRequest({ container, nic, addresses: [] });
  } catch (e) {
    rethrow(e, bad, keyLine(parseTargetFails(container) ? 'container' : 'nic'));
  }
  const target = parseTarget(container);
  if (target.kind === 'pid' || target.kind === 'path') {
    bad(keyLine('container'), `container ${q(container)}: a ${target.kind === 'pid' ? 'pid' : 'path'} names a process or namespace of this boot only, and may name another one after a restart; name the container (docker:NAME, podman:NAME, containerd:ID, NAME) or netns:NAME`);
  }
  input.addresses.forEach((a, i) => {
    try { parseAttachRequest({ container, nic, addresses: [a] }); } catch (e) { rethrow(e, bad, itemLine('addresses', i)); }
  });
  input.routes.forEach((r, i) => {
    try { parseRoute(r); } catch (e) { rethrow(e, bad, itemLine('routes', i)); }
  });
  for (const k of ['name', 'mac', 'mtu'] as const) {
    if (input[k] === undefined) continue;
    try { parseAttachRequest({ container, nic, addresses: [], [k]: input[k] }); } catch (e) { rethrow(e, bad, keyLine(k)); }
  }
  try { parseAttachRequest({ container, nic, addresses: [], ...macvlan }); } catch (e) { rethrow(e, bad, keyLine('macvlan')); }
  let request: AttachRequest;
  try {
    request = parseAttachRequest(input);
  } catch (e) {
    return rethrow(e, bad, line);
  }
  return { line, index, container, nic, request };
}

function parseTargetFails(container: string): boolean {
  try {
    parseTarget(container);
    return false;
  } catch {
    return true;
  }
}

function rethrow(e: unknown, bad: Bad, line: number): never {
  if (e instanceof HostnicError) bad(line, e.message);
  throw e;
}
