/** MTU values. The NIC's own min/max are checked later, against the kernel. */
import { fail, q } from './text.js';

/** IPv4's minimum (RFC 791) and the largest value the kernel's u16-sized APIs carry here. */
export const MTU_MIN = 68;
export const MTU_MAX = 65535;
/** Below this the kernel turns IPv6 off on the link (RFC 8200). */
export const IPV6_MIN_MTU = 1280;

/** A whole number of bytes, 68..65535, written in plain decimal. */
export function parseMtu(s: string | number): number {
  let n: number;
  if (typeof s === 'number') {
    if (!Number.isInteger(s)) fail(`invalid MTU ${String(s)}: not a whole number of bytes`);
    n = s;
  } else {
    if (s === '') fail('invalid MTU "": empty value');
    if (!/^\d+$/.test(s)) fail(`invalid MTU ${q(s)}: not a whole number of bytes`);
    n = s.length > 6 ? Infinity : Number(s);
  }
  if (n < MTU_MIN || n > MTU_MAX) {
    fail(`invalid MTU ${typeof s === 'number' ? String(s) : q(s)}: out of range (${MTU_MIN}..${MTU_MAX})`);
  }
  return n;
}
