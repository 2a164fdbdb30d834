/** tools: ip with JSON output and nsenter (nmcli and networkctl are optional; udhcpc is needed for `dhcp`). */
import { read } from '../../exec.js';
import { clientArgv } from '../../dhcp/client.js';
import type { Check, DoctorCheck } from '../types.js';

async function works(argv: string[]): Promise<string | null> {
  try {
    return await read({ argv, timeoutMs: 10_000 });
  } catch {
    return null;
  }
}

export async function checkTools(): Promise<Check> {
  const [ipOut, nsenter, nmcli, networkctl, udhcpc, busybox] = await Promise.all([
    works(['ip', '-json', 'link', 'show', 'dev', 'lo']),
    works(['nsenter', '--version']),
    works(['nmcli', '--version']),
    works(['networkctl', '--version']),
    Promise.resolve(clientArgv()[0] === 'udhcpc' ? 'udhcpc' : null),
    // Else `busybox udhcpc`, if this busybox has the applet.
    works(['busybox', '--list']),
  ]);
  let ipJson: boolean;
  try {
    ipJson = ipOut !== null && Array.isArray(JSON.parse(ipOut));
  } catch {
    ipJson = false;
  }
  const missing: string[] = [];
  if (ipOut === null) missing.push('ip (iproute2)');
  else if (!ipJson) missing.push('ip with JSON output (iproute2 >= 4.14)');
  if (nsenter === null) missing.push('nsenter (util-linux)');
  const optional = [`nmcli ${nmcli !== null ? 'found' : 'not found'}`, `networkctl ${networkctl !== null ? 'found' : 'not found'}`].join(', ');
  const dhcp = udhcpc !== null || (busybox ?? '').split('\n').includes('udhcpc');
  const why = 'hostnic reads the kernel as JSON (`ip -json`) and runs commands inside other namespaces with nsenter. nmcli and networkctl are optional: they let doctor ask NetworkManager and systemd-networkd directly. udhcpc (busybox) is the DHCP client of `hostnic attach ... dhcp`.';
  if (missing.length === 0 && !dhcp) {
    return {
      id: 'tools', verdict: 'warn', title: `ip (JSON) and nsenter found; udhcpc not found: attach ... dhcp cannot work; ${optional}`, why,
      fix: { summary: 'Install it: apt-get install udhcpc (or busybox).', steps: [] },
    };
  }
  if (missing.length === 0) return { id: 'tools', verdict: 'ok', title: `ip (JSON), nsenter and udhcpc found; ${optional}`, why };
  if (!dhcp) missing.push('udhcpc (busybox, for dhcp)');
  return {
    id: 'tools',
    verdict: 'fail',
    title: `Missing: ${missing.join(', ')}`,
    why,
    fix: { summary: 'Install them: apt-get install iproute2 util-linux (dnf install iproute util-linux).', steps: [] },
  };
}

export const tools: DoctorCheck = { id: 'tools', run: () => checkTools() };
