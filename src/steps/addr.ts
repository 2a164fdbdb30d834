/** Addresses on a link. The inverse of `addr.add` is how attach removes the host's addresses, keeping them for detach. */
import type { Cmd } from '../exec.js';
import type { AddrExpiry } from '../kernel/ip.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface AddrParams {
  ns: NsRef;
  dev: string;
  /** Each entry: what follows `ip addr add` before `dev` (see kernel/ip.ts addrArgs), first item the CIDR. */
  addrs: string[][];
  /**
   * Addresses with a finite lifetime, by their first item (the CIDR): when it
   * ends. Adding one gives it what is left; one whose lifetime ended
   * meanwhile is not added (the kernel would have removed it).
   */
  expires?: Record<string, AddrExpiry>;
}

/**
 * Deleting an address that is gone is fine: bringing a link down makes the
 * kernel drop its IPv6 addresses (unless keep_addr_on_down), so detach often
 * finds them gone already.
 */
// Case-insensitive: the kernel says "ipv4: Address not found" but "ipv6: address not found",
// "ipv4: Address already assigned" but "ipv6: address already assigned".
const GONE = /Cannot assign requested address|address not found|Cannot find device/i;
const THERE = /File exists|address already assigned/i;

const add = (p: AddrParams, args: string[], lifetime: string[]): Cmd => ({
  argv: ['ip', 'addr', 'add', ...args, ...lifetime, 'dev', p.dev], netns: nsArg(p.ns), idempotent: THERE,
});
/** The kernel finds an address by its local address, prefix and peer (without `peer`, it looks for local as the peer). */
const del = (p: AddrParams, args: string[]): Cmd => {
  const peer = args.indexOf('peer');
  return {
    argv: ['ip', 'addr', 'del', args[0]!, ...(peer > 0 ? ['peer', args[peer + 1]!] : []), 'dev', p.dev], netns: nsArg(p.ns), tolerate: GONE,
  };
};

/** `valid_lft`/`preferred_lft` with what is left at `now` (seconds); undefined when the lifetime is over. */
export function lifetimeLeft(e: AddrExpiry | undefined, now: number): string[] | undefined {
  if (!e) return [];
  const valid = Math.floor(e.valid - now);
  if (valid <= 0) return undefined;
  return ['valid_lft', String(valid), 'preferred_lft', String(Math.max(0, Math.min(valid, Math.floor(e.preferred - now))))];
}

export const addrAdd: StepKind<AddrParams> = {
  apply: (p) => {
    // The clock is read here, when the commands are made: just before they run.
    const now = Date.now() / 1000;
    return p.addrs.flatMap((a) => {
      const lifetime = lifetimeLeft(p.expires?.[a[0]!], now);
      return lifetime ? [add(p, a, lifetime)] : [];
    });
  },
  undo: (p) => [...p.addrs].reverse().map((a) => del(p, a)),
};
