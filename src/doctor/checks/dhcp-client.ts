/** dhcp-client: a DHCP client runs on a secondary NIC. Advice: its process belongs to the admin. */
import { claimsOf } from '../view.js';
import type { Check, DoctorCheck, HostView } from '../types.js';

export function checkDhcpClients(view: HostView): Check {
  const why = 'A DHCP client on the NIC keeps renewing its lease and re-adds the address (and a default route) the cloud hands out, on the host side.';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'dhcp-client').length > 0);
  if (claimed.length === 0) return { id: 'dhcp-client', verdict: 'ok', title: 'No DHCP client runs on a secondary NIC', why };
  const pids = [...new Set(claimed.flatMap((n) => claimsOf(n, 'dhcp-client').map((c) => c.pid)).filter((p): p is number => p !== undefined))];
  return {
    id: 'dhcp-client',
    verdict: 'warn',
    title: `DHCP client on ${claimed.map((n) => n.name).join(', ')}: ${claimed.flatMap((n) => claimsOf(n, 'dhcp-client').map((c) => c.detail.split(':')[0])).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: `kill ${pids.join(' ')}   # stops the client without releasing the lease; then remove what starts it (see the ifupdown, NetworkManager and netplan checks)`,
      steps: [],
    },
  };
}

export const dhcpClient: DoctorCheck = { id: 'dhcp-client', run: checkDhcpClients };
