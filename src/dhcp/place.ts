/** Where an attachment's DHCP client keeps its lease, and which pid namespace it joins. */
import { join, resolve } from 'node:path';
import { nsIdOf } from '../kernel/ip.js';
import type { DhcpPlace } from '../plan/attach.js';
import type { Target } from '../runtime/types.js';
import type { StateDir } from '../state.js';

/**
 * The lease file `<state>/dhcp/<id>.json` (the directory made if missing,
 * unless for a dry run, which changes nothing),
 * and the container's pid namespace when it has one of its own: the client
 * joins it, so the kernel ends the client with the container. A target in
 * hostnic's own pid namespace (a `pid:` process of the host, `--pid=host`),
 * or without a process (`netns:`), gets none.
 */
export function dhcpPlace(state: StateDir, id: string, target: Target, dryRun = false): DhcpPlace {
  if (!dryRun) state.ensureDhcp();
  const lease = join(resolve(state.dhcpDir), `${id}.json`);
  if (target.pid === undefined) return { lease };
  const theirs = nsIdOf(`/proc/${target.pid}/ns/pid`);
  return theirs && theirs !== nsIdOf('/proc/self/ns/pid') ? { lease, pidns: `/proc/${target.pid}/ns/pid` } : { lease };
}
