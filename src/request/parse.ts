/**
 * The pure parsing and validation layer: command-line words in, a typed and
 * fully checked AttachRequest out. Nothing here touches the system; every
 * failure is a UsageError (exit 2) with one line naming the bad value.
 */
import type { AttachRequest, DhcpSpec } from './types.js';
import { checkRoutes, parseAddresses, parseRoute } from './address.js';
import { parseMac } from './mac.js';
import { parseMacvlanMode } from './macvlan.js';
import { IPV6_MIN_MTU, parseMtu } from './mtu.js';
import { validateIfName } from './names.js';
import { parseNicSelector } from './nic.js';
import { parseTarget } from './target.js';
import { fail } from './text.js';

export { checkRoutes, parseAddress, parseAddresses, parseRoute, routeText } from './address.js';
export { parseMac } from './mac.js';
export { MACVLAN_MODES, macvlanMac, parseMacvlanMode, type MacvlanMode } from './macvlan.js';
export { IPV6_MIN_MTU, MTU_MAX, MTU_MIN, parseMtu } from './mtu.js';
export { IFNAME_MAX, validateIfName } from './names.js';
export { parseNicSelector, parsePciAddress } from './nic.js';
export { PID_MAX, TARGET_FORMS, parseTarget } from './target.js';

/** Seconds `dhcp` waits for the first lease unless --dhcp-timeout says otherwise. */
export const DHCP_TIMEOUT = 10;

const isDhcpWord = (w: string): boolean => /^dhcp(?:$|[@/])/i.test(w);

/** `dhcp` among the address words: once, alone (the lease brings its own prefix and router). */
function parseDhcp(words: string[], timeout: string | number | undefined): DhcpSpec | undefined {
  const found = words.filter(isDhcpWord);
  if (found.length > 1) fail(`"dhcp" is given ${found.length} times: give it once`);
  const w = found[0];
  if (w !== undefined && w !== 'dhcp') {
    fail(`invalid address ${JSON.stringify(w)}: write dhcp alone (the lease brings its prefix and router)`);
  }
  if (timeout !== undefined && w === undefined) fail('--dhcp-timeout is given without "dhcp" among the addresses');
  if (w === undefined) return undefined;
  if (timeout === undefined) return { timeout: DHCP_TIMEOUT };
  const t = String(timeout);
  if (!/^\d{1,4}$/.test(t) || Number(t) < 1 || Number(t) > 3600) fail(`invalid --dhcp-timeout ${JSON.stringify(t)}: a whole number of seconds, 1..3600`);
  return { timeout: Number(t) };
}

/** The attach command's words, as the CLI received them. */
export interface AttachInput {
  container: string;
  nic: string;
  addresses: string[];
  name?: string;
  mac?: string;
  mtu?: string | number;
  routes?: string[];
  force?: boolean;
  /** `--macvlan`, and `--macvlan-mode` (only with it; default bridge). */
  macvlan?: boolean;
  macvlanMode?: string;
  /** --dhcp-timeout (seconds), with `dhcp` among the addresses. */
  dhcpTimeout?: string | number;
}

/**
 * Validate a whole attach request, before anything looks at the system.
 * Checks each value, then the combinations: route next hops on the attached
 * subnets, one default route per family, an MTU that keeps IPv6 alive when
 * IPv6 addresses are given, and no container-side name "lo".
 */
export function parseAttachRequest(input: AttachInput): AttachRequest {
  const target = parseTarget(String(input.container));
  const nic = parseNicSelector(String(input.nic));
  const words = (input.addresses ?? []).map(String);
  const dhcp = parseDhcp(words, input.dhcpTimeout);
  const addresses = parseAddresses(words.filter((w) => !isDhcpWord(w)));
  if (dhcp) {
    const gw = addresses.find((a) => a.family === 4 && a.gateway);
    if (gw) fail(`two IPv4 default routes: the DHCP lease's router and ${gw.gateway} (on ${gw.cidr})`, 'the lease brings its router: drop @GATEWAY from the IPv4 address');
  }
  const routes = (input.routes ?? []).map((r) => parseRoute(String(r)));
  checkRoutes(routes, addresses);

  const request: AttachRequest = { target, nic, addresses, routes, force: input.force === true, ...(dhcp ? { dhcp } : {}) };
  if (input.name !== undefined) {
    const name = validateIfName(String(input.name), 'container-side name');
    if (name === 'lo') fail(`invalid container-side name "lo": every network namespace already has its loopback device "lo"`);
    request.name = name;
  }
  if (input.mac !== undefined) request.mac = parseMac(String(input.mac));
  if (input.mtu !== undefined) {
    const mtu = parseMtu(input.mtu);
    const v6 = addresses.find((a) => a.family === 6);
    if (v6 && mtu < IPV6_MIN_MTU) {
      fail(`MTU ${mtu} is below IPv6's minimum of ${IPV6_MIN_MTU}, and ${v6.cidr} is IPv6`, 'the kernel turns IPv6 off on such a link');
    }
    request.mtu = mtu;
  }
  if (input.macvlanMode !== undefined && !input.macvlan) fail('--macvlan-mode needs --macvlan', 'add --macvlan to attach a macvlan child of the NIC');
  if (input.macvlan && nic.kind === 'name' && nic.name === 'lo') fail('lo is the loopback device: it cannot be a macvlan parent', 'name an Ethernet NIC of the host');
  if (input.macvlan) request.macvlan = { mode: input.macvlanMode === undefined ? 'bridge' : parseMacvlanMode(String(input.macvlanMode)) };
  return request;
}
