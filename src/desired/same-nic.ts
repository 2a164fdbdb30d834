/**
 * One NIC named two ways in the desired file (`nic: eth1` in one entry,
 * `nic: mac:...` or `pci:...` of the same card in another): the file alone
 * cannot tell (desired/parse.ts compares the words), the host can. apply
 * looks before anything runs and refuses the file (exit 2), as for one NIC
 * written the same way twice. Only when the file mixes kinds of selector.
 */
import { UsageError } from '../errors.js';
import { readNs } from '../kernel/ip.js';
import { findNic, hostLinks } from '../observe/host.js';
import { recordWanted, type AttachmentRecord } from '../records.js';
import type { Desired } from './parse.js';

export async function refuseOneNicTwice(desired: Desired, records: AttachmentRecord[]): Promise<void> {
  const moved = desired.entries.filter((e) => !e.request.macvlan);
  if (new Set(moved.map((e) => e.request.nic.kind)).size < 2) return;
  const host = hostLinks(await readNs());
  const seen = new Map<string, number>();
  for (const e of moved) {
    let id: string | undefined;
    try {
      const link = findNic(host, e.request.nic);
      // Not on the host: attached already (its record says which NIC), or missing.
      id = link ? `link ${link.ifindex}` : records.filter((r) => recordWanted(r, e.request)).map((r) => `record ${r.id}`)[0];
    } catch {
      continue; // ambiguous: the entry says so when it runs
    }
    if (id === undefined) continue;
    const other = seen.get(id);
    if (other !== undefined) {
      throw new UsageError(`${desired.path}:${e.line}: NIC ${e.nic} is the NIC of the entry at line ${other}, named another way: one NIC can be in one container only`,
        'see `hostnic schema` and README.md, "The desired-state file"');
    }
    seen.set(id, e.line);
  }
}
