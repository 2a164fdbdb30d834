/** How the user names the host NIC: an interface name, `mac:`, or `pci:`. */
import type { NicSelector } from './types.js';
import { looksLikeMac, parseMac } from './mac.js';
import { validateIfName } from './names.js';
import { fail, q } from './text.js';

const HEX2 = /^[0-9a-f]{2}$/;

/** A PCI address as parsePciAddress writes it: a domain of four hex digits, or up to eight without a leading 0 (Intel VMD: 10000). */
export const PCI_ADDRESS = /^(?:[0-9a-f]{4}|[1-9a-f][0-9a-f]{4,7}):[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;

/**
 * A PCI bus id, `[DOMAIN:]BUS:DEVICE.FUNCTION`, normalized to the sysfs
 * form: lower case, domain included (`0000:00:05.0`). The domain is four
 * hex digits, or up to eight for the large domains of Intel VMD, as sysfs
 * prints them (%04x: no extra leading zeros).
 */
export function parsePciAddress(s: string): string {
  const v = s.toLowerCase();
  const what = `invalid PCI address ${q(s)}`;
  const shape = `expected [DOMAIN:]BUS:DEVICE.FUNCTION like 0000:00:05.0`;
  if (s === '') fail(`${what}: empty value`);
  const dot = v.lastIndexOf('.');
  if (dot === -1 || v.indexOf('.') !== dot) fail(`${what}: ${shape}`);
  const fields = v.slice(0, dot).split(':');
  const fn = v.slice(dot + 1);
  if (fields.length < 2 || fields.length > 3) fail(`${what}: ${shape}`);
  const [domain, bus = '', device = ''] = fields.length === 3 ? fields : ['0000', ...fields];
  if (domain === undefined || !/^[0-9a-f]{4,8}$/.test(domain) || (domain.length > 4 && domain.startsWith('0'))) {
    fail(`${what}: the domain must be four hex digits (e.g. 0000)`);
  }
  if (!HEX2.test(bus)) fail(`${what}: the bus must be two hex digits`);
  if (!HEX2.test(device) || parseInt(device, 16) > 0x1f) fail(`${what}: the device must be two hex digits, 00..1f`);
  if (!/^[0-7]$/.test(fn)) fail(`${what}: the function must be a digit 0..7`);
  return `${domain}:${bus}:${device}.${fn}`;
}

/** `eth1`, `mac:52:54:00:12:34:56`, or `pci:0000:00:05.0` (also `pci:00:05.0`). */
export function parseNicSelector(s: string): NicSelector {
  if (s === '') fail('NIC is empty', 'name it as an interface name, mac:MAC or pci:BUS-ID');
  const lower = s.toLowerCase();
  if (lower.startsWith('mac:')) {
    const value = s.slice(4);
    if (value === '') fail(`NIC ${q(s)} has an empty MAC`);
    return { kind: 'mac', mac: parseMac(value) };
  }
  if (lower.startsWith('pci:')) {
    const value = s.slice(4);
    if (value === '') fail(`NIC ${q(s)} has an empty PCI address`);
    return { kind: 'pci', address: parsePciAddress(value) };
  }
  if (looksLikeMac(s)) fail(`invalid NIC ${q(s)}: that is a MAC address, not an interface name`, `write mac:${s}`);
  if (/^([0-9a-f]{4,8}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i.test(s)) {
    fail(`invalid NIC ${q(s)}: that is a PCI address, not an interface name`, `write pci:${s}`);
  }
  if (/^[a-z][a-z0-9]*:/i.test(s)) {
    fail(`invalid NIC ${q(s)}: not an interface name (those have no ":"), mac:MAC or pci:BUS-ID`);
  }
  return { kind: 'name', name: validateIfName(s, 'NIC name') };
}
