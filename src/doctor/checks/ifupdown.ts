/** ifupdown: an auto/allow-hotplug line names a secondary NIC. Advice: its files belong to the admin. */
import { claimsOf } from '../view.js';
import type { Check, DoctorCheck, HostView } from '../types.js';

export function checkIfupdown(view: HostView): Check {
  const why = 'ifupdown brings up every interface named on an `auto` or `allow-hotplug` line at boot and on hotplug, and configures it from its `iface` stanza (often DHCP).';
  const claimed = view.candidates.filter((n) => claimsOf(n, 'ifupdown').some((c) => c.atBoot));
  if (claimed.length === 0) return { id: 'ifupdown', verdict: 'ok', title: 'No ifupdown auto/allow-hotplug line names a secondary NIC', why };
  const lines = claimed.flatMap((n) => claimsOf(n, 'ifupdown').map((c) => `${n.name}: ${c.detail.replace(/^ifupdown: /, '')}`));
  return {
    id: 'ifupdown',
    verdict: 'warn',
    title: `ifupdown brings up ${claimed.map((n) => n.name).join(', ')}`,
    why,
    nics: claimed.map((n) => n.name),
    fix: {
      summary: [
        ...claimed.map((n) => {
          const c = claimsOf(n, 'ifupdown')[0]!;
          return `In ${c.file}${c.line ? ` line ${c.line}` : ''}: remove ${n.name} from its auto/allow-hotplug line and delete (or comment out) its \`iface ${n.name}\` stanza`;
        }),
        ...lines.map((l) => `  (${l})`),
      ].join('\n'),
      steps: [],
    },
  };
}

export const ifupdown: DoctorCheck = { id: 'ifupdown', run: checkIfupdown };
