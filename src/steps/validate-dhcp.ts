/**
 * The schemas of the DHCP kinds (steps/dhcp.ts) and of a lease as hostnic
 * keeps it (the lease file, a `dhcp.lease` step's saved data). Pure.
 */
import { fail, needArray, needCidr, needFinite, needIfName, needInt, needIp, needNs, needObject, needString } from './shapes.js';
import { checkPlainPath, type KindSchema } from './validate.js';

/** `<state>/dhcp/<hex>.json`: the only files a DHCP step names (read, or handed to the client's event script). */
export const LEASE_FILE = /\/dhcp\/[0-9a-f]{1,64}\.json$/;

function needLeaseFile(v: unknown, at: string): void {
  if (!LEASE_FILE.test(checkPlainPath(v, at))) fail(at, 'is not a lease file of hostnic (<state>/dhcp/<hex>.json)');
}

const ip4 = (v: unknown, at: string): string => {
  const s = needIp(v, at);
  if (s.includes(':')) fail(at, 'is not IPv4');
  return s;
};

/** A lease (dhcp/lease.ts DhcpLease). */
export function checkLease(v: unknown, at: string): void {
  const l = needObject(v, at, ['ip', 'prefix', 'routes', 'seconds', 'at'], ['router', 'mtu', 'server']);
  ip4(l.ip, `${at}.ip`);
  needInt(l.prefix, `${at}.prefix`, 1, 32);
  if (l.router !== undefined) ip4(l.router, `${at}.router`);
  if (l.server !== undefined) ip4(l.server, `${at}.server`);
  if (l.mtu !== undefined) needInt(l.mtu, `${at}.mtu`, 68, 65535);
  needInt(l.seconds, `${at}.seconds`, 0, 0xffffffff);
  needFinite(l.at, `${at}.at`);
  needArray(l.routes, `${at}.routes`, { max: 256 }).forEach((x, i) => {
    const r = needObject(x, `${at}.routes[${i}]`, ['dst'], ['via']);
    if (needCidr(r.dst, `${at}.routes[${i}].dst`).includes(':')) fail(`${at}.routes[${i}].dst`, 'is not IPv4');
    if (r.via !== undefined) ip4(r.via, `${at}.routes[${i}].via`);
  });
}

export function dhcpSchemas(checkRoute: (v: unknown, at: string) => void): { 'dhcp.client': KindSchema; 'dhcp.lease': KindSchema } {
  const base = (p: Record<string, unknown>, at: string): void => {
    if (needNs(p.ns, `${at}.ns`) === null) fail(`${at}.ns`, 'is not the container\'s namespace');
    needIfName(p.dev, `${at}.dev`);
    needLeaseFile(p.lease, `${at}.lease`);
  };
  return {
    'dhcp.client': {
      required: ['ns', 'dev', 'lease', 'timeout'], optional: ['pidns'],
      params: (p, at) => {
        base(p, at);
        needInt(p.timeout, `${at}.timeout`, 1, 3600);
        if (p.pidns !== undefined && (typeof p.pidns !== 'string' || !/^\/proc\/\d{1,10}\/ns\/pid$/.test(p.pidns))) fail(`${at}.pidns`, 'is not /proc/PID/ns/pid');
      },
    },
    'dhcp.lease': {
      required: ['ns', 'dev', 'lease', 'mtu'], optional: ['keepMtu', 'previous', 'replaces', 'leaveDefault'],
      params: (p, at) => {
        base(p, at);
        needInt(p.mtu, `${at}.mtu`, 1, 65536);
        if (p.keepMtu !== undefined && typeof p.keepMtu !== 'boolean') fail(`${at}.keepMtu`, 'not a boolean');
        if (p.previous !== undefined) needArray(p.previous, `${at}.previous`, { max: 64 }).forEach((r, i) => checkRoute(r, `${at}.previous[${i}]`));
        if (p.replaces !== undefined) checkLease(p.replaces, `${at}.replaces`);
        if (p.leaveDefault !== undefined) needString(p.leaveDefault, `${at}.leaveDefault`);
      },
      saved: (v, at) => checkLease(v, at),
    },
  };
}
