/**
 * macvlan children (`attach --macvlan`): the mode, and the child's MAC.
 * Pure: the MAC is derived from who the container is and the parent's MAC,
 * so the same container on the same parent gets the same MAC every time.
 */
import { createHash } from 'node:crypto';
import { fail, q } from './text.js';

/** The modes hostnic makes (passthru is left out: one child only, and it takes over the parent's MAC). */
export const MACVLAN_MODES = ['bridge', 'private', 'vepa'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];

export function parseMacvlanMode(s: string): MacvlanMode {
  const mode = s.trim().toLowerCase();
  if ((MACVLAN_MODES as readonly string[]).includes(mode)) return mode as MacvlanMode;
  if (mode === 'passthru' || mode === 'source') {
    fail(`--macvlan-mode ${mode} is not supported`, `${mode} takes over the parent (one child, or its MAC list); use ${MACVLAN_MODES.join(', ')}`);
  }
  return fail(`unknown --macvlan-mode ${q(s)}`, `use one of ${MACVLAN_MODES.join(', ')}`);
}

/**
 * The child's MAC: the first six bytes of SHA-256 over the container's
 * stable identity and the parent's MAC, made locally administered (bit 1 of
 * the first octet set) and unicast (bit 0 clear). Stable for a given
 * (container, parent); a collision among a parent's children is 2^-46 per
 * pair.
 */
export function macvlanMac(identity: string, parentMac: string): string {
  const digest = createHash('sha256').update(`hostnic-macvlan\n${identity}\n${parentMac.toLowerCase()}`).digest();
  const bytes = [...digest.subarray(0, 6)];
  bytes[0] = (bytes[0]! | 0x02) & 0xfe;
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}
