/** DHCP clients: a running dhclient, dhcpcd or udhcpc that serves the NIC (from /proc). */
import { programOf, type ProcInfo } from '../proc.js';
import type { Claims, NicIdentity } from './types.js';

const DHCP_CLIENTS = new Set(['dhclient', 'dhclient3', 'dhcpcd', 'dhcpcd5', 'udhcpc', 'dhcpcd-bin']);

export function dhcpClaims(nics: readonly NicIdentity[], procs: readonly ProcInfo[]): Claims {
  const out: Claims = [];
  for (const p of procs) {
    const prog = programOf(p);
    if (!DHCP_CLIENTS.has(prog) && !DHCP_CLIENTS.has(p.comm)) continue;
    const tokens = p.argv.slice(1).flatMap((a) => a.split(/\s+/)).flatMap((t) => [t, t.replace(/^--?[A-Za-z-]+=/, '')]);
    if (p.argv.length === 1) tokens.push(...(p.argv[0] ?? '').split(/\s+/).slice(1)); // a rewritten title: "dhcpcd: eth1 [ip4]"
    const named = nics.filter((n) => tokens.includes(n.name));
    // A client started without an interface name serves every interface.
    const bare = p.argv.slice(1).flatMap((a) => a.split(/\s+/)).filter((t) => /^[A-Za-z][\w.@-]*$/.test(t) && !t.includes('='));
    const targets = named.length > 0 ? named : bare.length === 0 ? nics : [];
    const cmd = p.argv.join(' ');
    for (const nic of targets) {
      out.push([nic.name, {
        manager: 'dhcp-client',
        active: true,
        atBoot: false,
        pid: p.pid,
        detail: `${prog} (pid ${p.pid}${named.length === 0 ? ', all interfaces' : ''}): ${cmd.length > 160 ? `${cmd.slice(0, 157)}...` : cmd}`,
      }]);
    }
  }
  return out;
}
