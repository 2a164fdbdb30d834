/** tools: ip with JSON output and nsenter (nmcli and networkctl are optional). */
import { read } from '../../exec.js';
import type { Check, DoctorCheck } from '../types.js';

async function works(argv: string[]): Promise<string | null> {
  try {
    return await read({ argv, timeoutMs: 10_000 });
  } catch {
    return null;
  }
}

export async function checkTools(): Promise<Check> {
  const [ipOut, nsenter, nmcli, networkctl] = await Promise.all([
    works(['ip', '-json', 'link', 'show', 'dev', 'lo']),
    works(['nsenter', '--version']),
    works(['nmcli', '--version']),
    works(['networkctl', '--version']),
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
  const why = 'hostnic reads the kernel as JSON (`ip -json`) and runs commands inside other namespaces with nsenter. nmcli and networkctl are optional: they let doctor ask NetworkManager and systemd-networkd directly.';
  if (missing.length === 0) return { id: 'tools', verdict: 'ok', title: `ip (JSON) and nsenter found; ${optional}`, why };
  return {
    id: 'tools',
    verdict: 'fail',
    title: `Missing: ${missing.join(', ')}`,
    why,
    fix: { summary: 'Install them: apt-get install iproute2 util-linux (dnf install iproute util-linux).', steps: [] },
  };
}

export const tools: DoctorCheck = { id: 'tools', run: () => checkTools() };
