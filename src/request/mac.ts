/** Ethernet MAC addresses. */
import { fail, q } from './text.js';

const OCTET = /^[0-9a-fA-F]{2}$/;

/** True when `s` has the shape of a MAC (six two-digit hex octets, ':' or '-'). */
export function looksLikeMac(s: string): boolean {
  const sep = s.includes('-') ? '-' : ':';
  const parts = s.split(sep);
  return parts.length === 6 && parts.every((p) => OCTET.test(p));
}

/**
 * `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, any case (one separator
 * throughout). Returns lower-case colon form. Only a unicast, non-zero MAC
 * can be a NIC's own address.
 */
export function parseMac(s: string): string {
  if (s === '') fail('invalid MAC "": empty value');
  if (!looksLikeMac(s)) {
    fail(`invalid MAC ${q(s)}: expected six two-digit hex octets like 52:54:00:12:34:56`);
  }
  const mac = s.split(s.includes('-') ? '-' : ':').join(':').toLowerCase();
  const first = parseInt(mac.slice(0, 2), 16);
  if (mac === '00:00:00:00:00:00') fail(`MAC ${s} is all zeros`);
  if (mac === 'ff:ff:ff:ff:ff:ff') fail(`MAC ${s} is the broadcast address`);
  if ((first & 1) === 1) {
    fail(
      `MAC ${s} is a multicast address (the lowest bit of the first octet is set)`,
      'a unicast MAC has an even first octet; a locally administered one starts with 02, 06, 0a or 0e',
    );
  }
  return mac;
}
