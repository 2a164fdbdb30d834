/**
 * Edits of the desired-state file's text (attach --persist, detach): pure,
 * through yaml's Document API, so the user's comments, key order and the
 * other entries stay as they were. The result is parsed again with the
 * loader: an edit never writes a file the loader would refuse.
 */
import { isMap, isSeq, parseDocument, YAMLMap, YAMLSeq, type Document } from 'yaml';
import { DHCP_TIMEOUT, routeText } from '../request/parse.js';
import type { AttachRequest } from '../request/types.js';
import { containerKey, parseDesiredText, selectorText, type DesiredEntry } from './parse.js';
import { ENTRY_KEYS, type EntryKey } from './schema.js';

const HEADER = [
  ' hostnic: the NICs to keep attached. `hostnic apply` makes the machine so; `hostnic watch` keeps it so.',
  ' Written by `hostnic attach --persist` and `hostnic detach`, which keep comments; edit it freely.',
  ' Schema: `hostnic schema`.',
].join('\n');

/** An entry's values, as the file spells them (canonical forms from the parsed request). */
export function entryValues(container: string, nic: string, req: AttachRequest): Partial<Record<EntryKey, unknown>> {
  const out: Partial<Record<EntryKey, unknown>> = { container, nic };
  const addresses = [...(req.dhcp ? ['dhcp'] : []), ...req.addresses.map((a) => (a.gateway ? `${a.cidr}@${a.gateway}` : a.cidr))];
  if (addresses.length) out.addresses = addresses;
  if (req.name !== undefined) out.name = req.name;
  if (req.mac !== undefined) out.mac = req.mac;
  if (req.mtu !== undefined) out.mtu = req.mtu;
  if (req.routes.length) out.routes = req.routes.map(routeText);
  if (req.macvlan) out.macvlan = req.macvlan.mode;
  if (req.dhcp && req.dhcp.timeout !== DHCP_TIMEOUT) out['dhcp-timeout'] = req.dhcp.timeout;
  return out;
}

/** Is this entry the one of that container and NIC (however the file spells them)? */
export function sameEntry(e: DesiredEntry, container: string, req: AttachRequest): boolean {
  return containerKey(e.container) === containerKey(container) && selectorText(e.request.nic) === selectorText(req.nic);
}

function listOf(doc: Document): YAMLSeq {
  if (!isMap(doc.contents)) {
    doc.contents = doc.createNode({}) as never;
    doc.commentBefore ??= HEADER;
  }
  const top = doc.contents as unknown as YAMLMap;
  const list: unknown = top.get('attachments', true);
  if (isSeq(list)) return list;
  const made = new YAMLSeq();
  top.set('attachments', made);
  return made;
}

/**
 * The text with the entry of this container and NIC written (replaced in
 * place when there is one, appended otherwise). `text` null: a new file.
 */
export function upsertEntry(text: string | null, path: string, container: string, nic: string, req: AttachRequest): string {
  const old = text === null ? [] : parseDesiredText(text, path).entries;
  const doc = parseDocument(text ?? '');
  const list = listOf(doc);
  const values = entryValues(container, nic, req);
  const node = (v: unknown) => doc.createNode(v, { flow: Array.isArray(v) });
  const found = old.find((e) => sameEntry(e, container, req));
  if (found) {
    const item = list.items[found.index] as YAMLMap;
    for (const k of ENTRY_KEYS) {
      // The container and NIC stay as the user spelled them in the file.
      if (k === 'container' || k === 'nic') continue;
      if (values[k] === undefined) item.delete(k);
      else if (JSON.stringify(item.toJSON()?.[k]) !== JSON.stringify(values[k])) item.set(k, node(values[k]));
    }
  } else {
    const item = new YAMLMap();
    for (const k of ENTRY_KEYS) if (values[k] !== undefined) item.set(k, node(values[k]));
    list.items.push(item);
  }
  const out = doc.toString({ flowCollectionPadding: false });
  parseDesiredText(out, path); // never write what the loader refuses
  return out;
}

/** The text without the entries `drop` picks, and which they were. */
export function removeEntries(text: string, path: string, drop: (e: DesiredEntry) => boolean): { text: string; removed: DesiredEntry[] } {
  const { entries } = parseDesiredText(text, path);
  const removed = entries.filter(drop);
  if (removed.length === 0) return { text, removed };
  const doc = parseDocument(text);
  const list = listOf(doc);
  for (const e of [...removed].reverse()) list.items.splice(e.index, 1);
  const out = doc.toString({ flowCollectionPadding: false });
  parseDesiredText(out, path);
  return { text: out, removed };
}
