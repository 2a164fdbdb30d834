/**
 * What attach does before it plans, shared by `hostnic attach`, `hostnic
 * apply` and the CNI ADD (src/cni/add.ts): lock the NIC and the container's
 * namespace, and read both namespaces under the locks.
 */
import { readNs } from '../kernel/ip.js';
import { findNic, hostLinks } from '../observe/host.js';
import { STALE_AFTER_MS } from '../observe/live.js';
import type { AttachRequest, NicSelector } from '../request/types.js';
import { resolveTarget } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import { nsKey } from '../runner.js';
import type { Ctx } from './context.js';

/** The identity a selector names, as a lock key: the name or MAC a plan touches, or the PCI address. */
export const selectorKey = (sel: NicSelector): string => (sel.kind === 'name' ? sel.name : sel.kind === 'mac' ? sel.mac : sel.address);

/**
 * The name and MAC each selector was last found as, in this process: a
 * long-running one (watch, apply of many entries) takes them with the first
 * keys instead of in a second round after the read. Only a guess: the keys
 * of the link as read are what count, and a guess that was wrong is let go.
 */
const lastFound = new Map<string, string[]>();

/**
 * Lock the NIC and the container's namespace (choosing a free ethN there must
 * not race), then read both namespaces. The NIC is locked by the selector
 * first, then by its name and MAC as found; when that meant waiting, look
 * again. No locks in dry-run: it changes nothing. `relook`: how to look the
 * container up again after a long wait.
 */
export async function lockAndLook(ctx: Pick<Ctx, 'dryRun' | 'locks'>, req: AttachRequest, first: Target, relook = () => resolveTarget(req.target)) {
  let target = first;
  const sel = selectorKey(req.nic);
  const heldBefore = new Set(ctx.locks.keys());
  const guess = (lastFound.get(sel) ?? []).filter((k) => k !== sel && !heldBefore.has(k));
  let keys = [sel, nsKey(target.nsId), ...guess];
  let waitedMs = 0; // since the container was looked up
  for (;;) {
    if (!ctx.dryRun) waitedMs += (await ctx.locks.take(keys)).ms;
    // After waiting for another hostnic, the container may have changed: ask again.
    if (waitedMs > STALE_AFTER_MS) {
      target = await relook();
      waitedMs = 0;
    }
    const [hostState, ctrState] = await Promise.all([readNs(), readNs(target.nsPath)]);
    const link = findNic(hostLinks(hostState), req.nic);
    const found = link ? [link.ifname, (link.address ?? '').toLowerCase()] : [];
    if (link) lastFound.set(sel, found);
    keys = [nsKey(target.nsId), ...found];
    if (ctx.dryRun) return { target, hostState, ctrState, link };
    // A guess that was not the link as read: not ours to hold.
    ctx.locks.release(guess.filter((k) => !keys.includes(k)));
    const again = await ctx.locks.take(keys);
    if (!again.waited) return { target, hostState, ctrState, link };
    waitedMs += again.ms;
  }
}
