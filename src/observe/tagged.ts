/** NICs found by the hostnic tag in their ifalias (tag.ts): in a list of links, or in every namespace of the host. */
import { readdirSync, readlinkSync } from 'node:fs';
import { addrs, defaultRoutes, readNs, type Link, type LinkAddrs, type Route } from '../kernel/ip.js';
import { decodeTag, type Tag } from '../tag.js';

/** The link that carries this attachment's tag, in a list of links. */
export function findTagged(list: Link[], id: string): Link | undefined {
  return list.find((l) => decodeTag(l.ifalias)?.id === id);
}

/**
 * NICs that carry a hostnic tag in some namespace of this host but have no
 * record (the state directory was lost or a file is unreadable): every
 * namespace that a process is in is looked at once, by its inode.
 */
export async function scanTagged(known: Set<string>): Promise<{ pid: number; link: LinkAddrs; tag: Tag }[]> {
  const own = readlinkSync('/proc/self/ns/net');
  const byNs = new Map<string, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const ns = readlinkSync(`/proc/${name}/ns/net`);
      if (ns !== own && !byNs.has(ns)) byNs.set(ns, Number(name));
    } catch { /* gone, or a kernel thread */ }
  }
  const found: { pid: number; link: LinkAddrs; tag: Tag }[] = [];
  const pids = [...byNs.values()];
  for (let i = 0; i < pids.length; i += 8) {
    await Promise.all(pids.slice(i, i + 8).map(async (pid) => {
      const state = await readNs(`/proc/${pid}/ns/net`).catch(() => undefined);
      for (const link of state?.links ?? []) {
        const tag = decodeTag(link.ifalias);
        if (tag && !known.has(tag.id)) found.push({ pid, link, tag });
      }
    }));
  }
  return found;
}

/** What the container shows of a tagged NIC that has no record: its addresses and the container's default routes. */
export async function taggedView(nsPath: string, ifname: string): Promise<{ link?: LinkAddrs; defaults: Record<4 | 6, Route[]> }> {
  const [link] = await addrs(nsPath, ifname);
  return { link, defaults: { 4: await defaultRoutes(nsPath, 4), 6: await defaultRoutes(nsPath, 6) } };
}
