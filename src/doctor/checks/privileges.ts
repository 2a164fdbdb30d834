/** privileges: root, with CAP_NET_ADMIN and CAP_SYS_ADMIN. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Check, DoctorCheck } from '../types.js';

const CAP_NET_ADMIN = 12n;
const CAP_SYS_ADMIN = 21n;

/** From /proc/self/status and the uid. */
export function checkPrivileges(status: string, uid: number): Check {
  const m = /^CapEff:\s*([0-9a-fA-F]+)/m.exec(status);
  const eff = m ? BigInt(`0x${m[1]}`) : 0n;
  const missing: string[] = [];
  if (uid !== 0) missing.push('root');
  if (!(eff & (1n << CAP_NET_ADMIN))) missing.push('CAP_NET_ADMIN');
  if (!(eff & (1n << CAP_SYS_ADMIN))) missing.push('CAP_SYS_ADMIN');
  const why =
    'Moving a NIC between namespaces and configuring it needs CAP_NET_ADMIN; entering a container\'s namespace (setns) needs CAP_SYS_ADMIN; the state directory and the fixes write root-owned files.';
  if (missing.length === 0) return { id: 'privileges', verdict: 'ok', title: 'Running as root with CAP_NET_ADMIN and CAP_SYS_ADMIN', why };
  return {
    id: 'privileges',
    verdict: 'fail',
    title: `Missing: ${missing.join(', ')}`,
    why,
    fix: { summary: 'Run hostnic as root (sudo hostnic ...), outside a container that drops these capabilities.', steps: [] },
  };
}

export const privileges: DoctorCheck = {
  id: 'privileges',
  run: (view) => checkPrivileges(readFileSync(join(view.paths.proc, 'self', 'status'), 'utf8'), process.getuid?.() ?? -1),
};
