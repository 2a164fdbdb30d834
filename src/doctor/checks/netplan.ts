/** netplan: a netplan file names a secondary NIC. Advice: its files belong to the admin. */
import { claimsOf } from '../view.js';
import type { Check, DoctorCheck, HostView } from '../types.js';

export function checkNetplan(view: HostView): Check {
  const why = 'netplan generates NetworkManager or systemd-networkd configuration at every boot (and on `netplan apply`): a NIC named in its YAML is configured again.';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'netplan').length > 0);
  if (claimed.length === 0) return { id: 'netplan', verdict: 'ok', title: 'No netplan file names a secondary NIC', why };
  return {
    id: 'netplan',
    verdict: 'warn',
    title: `netplan configures ${claimed.map((n) => n.name).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: claimed
        .map((n) => {
          const c = claimsOf(n, 'netplan')[0]!;
          return `In ${c.file} line ${c.line}: remove the entry for ${n.name} (${c.detail.replace(/^netplan: /, '')}), then \`netplan generate\``;
        })
        .join('\n'),
      steps: [],
    },
  };
}

export const netplan: DoctorCheck = { id: 'netplan', run: checkNetplan };
