/** Addresses on a link. The inverse of `addr.add` is how attach removes the host's addresses, keeping them for detach. */
import type { Cmd } from '../exec.js';
import { nsArg, type NsRef } from './link.js';
import type { StepKind } from './types.js';

export interface AddrParams {
  ns: NsRef;
  dev: string;
  /** Each entry: what follows `ip addr add` before `dev` (see kernel/ip.ts addrArgs), first item the CIDR. */
  addrs: string[][];
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

const add = (p: AddrParams, args: string[]): Cmd => ({
  argv: ['ip', 'addr', 'add', ...args, 'dev', p.dev], netns: nsArg(p.ns), idempotent: THERE,
});
const del = (p: AddrParams, args: string[]): Cmd => ({
  argv: ['ip', 'addr', 'del', args[0]!, 'dev', p.dev], netns: nsArg(p.ns), tolerate: GONE,
});

export const addrAdd: StepKind<AddrParams> = {
  apply: (p) => p.addrs.map((a) => add(p, a)),
  undo: (p) => [...p.addrs].reverse().map((a) => del(p, a)),
};
