/** What the doctor's checks look at, gathered once, and small readers they share. */
import { readFileSync } from 'node:fs';
import { listNics, type NicDetail } from '../host/inventory.js';
import type { ManagerClaim } from '../host/managers.js';
import { hostPaths } from '../host/paths.js';
import { sysctlReader } from '../host/sysctl.js';
import type { DoctorOptions, HostView } from './types.js';

export async function inspectHost(opts: DoctorOptions = {}): Promise<HostView> {
  const paths = hostPaths(opts.paths);
  const sysctl = opts.sysctl ?? sysctlReader(opts.netns);
  const nics = await listNics({ ...opts, sysctl });
  const wanted = opts.nics && opts.nics.length ? new Set(opts.nics) : undefined;
  const chosen = wanted ? nics.filter((n) => wanted.has(n.name)) : nics;
  return {
    ...(opts.netns ? { netns: opts.netns } : {}),
    paths,
    sysctl,
    nics,
    candidates: chosen.filter((n) => n.role === 'secondary'),
    skippedPrimary: chosen.filter((n) => n.role === 'primary').map((n) => n.name),
  };
}

/** One manager's claims on a NIC. */
export const claimsOf = (n: NicDetail, m: ManagerClaim['manager']): ManagerClaim[] => n.claims.filter((c) => c.manager === m);

/** A file's text, or undefined when it cannot be read (missing). */
export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
