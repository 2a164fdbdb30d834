/** Linux network interface names. */
import { fail, isPrintableAscii, q } from './text.js';

/** IFNAMSIZ is 16, including the terminating NUL. */
export const IFNAME_MAX = 15;

/** Names that are directories of their own under /proc/sys/net/ipv{4,6}/conf. */
const RESERVED = new Set(['all', 'default']);

/**
 * Check an interface name against the kernel's rules (dev_valid_name), plus
 * a few of ours: printable ASCII only, no '%' (the kernel expands "eth%d"
 * into a free name on rename), no leading '-' (it would read as an option),
 * not "all" or "default" (the per-interface sysctl tree would clash).
 * Returns the name unchanged. `what` names the value in the message.
 */
export function validateIfName(s: string, what = 'interface name'): string {
  const bad = (why: string): never => fail(`invalid ${what} ${q(s)}: ${why}`);
  if (s === '') bad('empty value');
  if (s === '.' || s === '..') bad('"." and ".." are not allowed');
  if (/\s/.test(s)) bad('contains whitespace');
  if (!isPrintableAscii(s)) bad('only printable ASCII characters are allowed');
  if (s.includes('/')) bad('contains "/"');
  if (s.includes(':')) bad('contains ":"');
  if (s.includes('%')) bad('contains "%" (the kernel reads it as a name template)');
  if (s.startsWith('-')) bad('starts with "-"');
  if (s.length > IFNAME_MAX) bad(`${s.length} characters long, the kernel allows at most ${IFNAME_MAX}`);
  if (RESERVED.has(s)) bad(`"${s}" is reserved (it would clash with net.ipv4.conf.${s})`);
  return s;
}
