/**
 * The shapes of the values steps carry, for steps/validate.ts: each `is*`
 * is a pure predicate, each `need*` throws an `Invalid` naming what is
 * wrong (the validator turns it into a one-line reason). Nothing here reads
 * the system: a journal or record is input, and these say only whether it
 * has the form hostnic writes.
 */
import { readIp } from '../request/address.js';
import { validateIfName } from '../request/names.js';
import { looksLikeMac } from '../request/mac.js';
import { q } from '../request/text.js';
import { isObject } from '../state.js';

/** Why a value is not what hostnic writes; `at` says where it is (`steps[3].params.dev`). */
export class Invalid extends Error {}

export const fail = (at: string, why: string): never => {
  throw new Invalid(`${at}: ${why}`);
};

/** Printable text without control characters (a title, an alias): nothing that can break a line or drive a terminal. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;
/** One argument of an `ip` command: printable ASCII without spaces or what an `ip -batch` line gives meaning to. */
const TOKEN = /^[\x21-\x7e]+$/;
const WORD = /^[A-Za-z0-9_.-]{1,64}$/;

export function needString(v: unknown, at: string, max = 4096): string {
  if (typeof v !== 'string') fail(at, `not a string (${typeof v})`);
  const s = v as string;
  if (s.length > max) fail(at, `longer than ${max} characters`);
  if (CONTROL.test(s)) fail(at, 'holds a control character');
  return s;
}

export function needToken(v: unknown, at: string, max = 128): string {
  const s = needString(v, at, max);
  if (!TOKEN.test(s) || /["\\#]/.test(s)) fail(at, `${q(s)} is not one plain argument`);
  return s;
}

export function needWord(v: unknown, at: string): string {
  const s = needString(v, at);
  if (!WORD.test(s)) fail(at, `${q(s)} is not a word`);
  return s;
}

export function needBool(v: unknown, at: string): boolean {
  if (typeof v !== 'boolean') fail(at, `not true or false (${typeof v})`);
  return v as boolean;
}

export function needInt(v: unknown, at: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(at, `not a whole number in ${min}..${max}`);
  return v as number;
}

export function needFinite(v: unknown, at: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(at, 'not a number');
  return v as number;
}

export function needArray(v: unknown, at: string, { min = 0, max = 4096 } = {}): unknown[] {
  if (!Array.isArray(v)) fail(at, 'not a list');
  const a = v as unknown[];
  if (a.length < min) fail(at, min === 1 ? 'empty' : `fewer than ${min} items`);
  if (a.length > max) fail(at, `more than ${max} items`);
  return a;
}

/** An object with exactly the keys `required` and some of `optional`: an unknown field is refused (it may mean something to a newer hostnic). */
export function needObject(v: unknown, at: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
  if (!isObject(v)) fail(at, 'not an object');
  const o = v as Record<string, unknown>;
  for (const k of required) if (o[k] === undefined) fail(at, `has no ${k}`);
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) fail(at, `has an unknown field ${q(k)}`);
  return o;
}

/** An interface name as the kernel allows it and hostnic accepts it (request/names.ts). */
export function isIfName(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  try {
    validateIfName(v);
    return true;
  } catch {
    return false;
  }
}

export function needIfName(v: unknown, at: string): string {
  if (!isIfName(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not a valid interface name`);
  return v as string;
}

export function isMac(v: unknown): v is string {
  return typeof v === 'string' && looksLikeMac(v) && v.includes(':');
}

export function needMac(v: unknown, at: string): string {
  if (!isMac(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not a MAC address`);
  return v as string;
}

/** A link-layer address of any length (Ethernet, InfiniBand, ...): hex octets separated by ':'. */
export function isLinkAddr(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){0,31}$/.test(v);
}

/** A link's address as hostnic keeps it: its link-layer address, or '' for a link without one (tun, wireguard). */
export function needLinkAddr(v: unknown, at: string): string {
  if (v !== '' && !isLinkAddr(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not a link-layer address`);
  return v as string;
}

/** An MTU a link can have (lo has 65536). */
export const needMtu = (v: unknown, at: string): number => needInt(v, at, 1, 65536);

export function isIp(v: unknown): v is string {
  return typeof v === 'string' && typeof readIp(v) !== 'string';
}

export function needIp(v: unknown, at: string): string {
  if (!isIp(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not an IP address`);
  return v as string;
}

/** ADDRESS/PREFIX, with the prefix in its family's range. */
export function isCidr(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const [ip, prefix, more] = v.split('/');
  if (more !== undefined || prefix === undefined || !/^\d{1,3}$/.test(prefix) || !isIp(ip)) return false;
  return Number(prefix) <= (ip!.includes(':') ? 128 : 32);
}

export function needCidr(v: unknown, at: string): string {
  if (!isCidr(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not ADDRESS/PREFIX`);
  return v as string;
}

/** A route's destination: a prefix, one address, or `default`. */
export function needDst(v: unknown, at: string): string {
  if (v !== 'default' && !isIp(v) && !isCidr(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not a route destination`);
  return v as string;
}

/**
 * A namespace as a step names it: null (hostnic's own) or an absolute path
 * in plain form (no `.`, `..` or empty components): `/proc/PID/ns/net`,
 * `/run/netns/NAME`, or the namespace file a person named with `path:`.
 */
export function needNs(v: unknown, at: string): string | null {
  if (v === null) return null;
  const s = needToken(v, at, 4096);
  if (!s.startsWith('/') || s.split('/').slice(1).some((c) => c === '' || c === '.' || c === '..')) {
    fail(at, `${q(s)} is not an absolute path in plain form`);
  }
  return s;
}

/** The private namespaces hostnic creates: hostnic-<hex>, under /run/netns. */
export const PRIVATE_NS = /^hostnic-[0-9a-f]{1,64}$/;

/** Plan, record and fix ids: lower-case hex (they name files). */
export const HEX_ID = /^[0-9a-f]{1,64}$/;

export function needHexId(v: unknown, at: string): string {
  if (typeof v !== 'string' || !HEX_ID.test(v)) fail(at, `${typeof v === 'string' ? q(v) : typeof v} is not a hex id`);
  return v as string;
}
