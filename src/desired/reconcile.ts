/**
 * STAND-IN for branch `desired` (issue 13, section 2), so that `hostnic
 * watch` compiles and its tests run before that branch lands. On merge the
 * lead takes `desired`'s reconcile.ts in place of this one. The contract
 * watch codes against: reconcile(ctx, desired, { containers?, prune?,
 * dryRun? }) makes live equal desired for every entry, or for the entries
 * whose container (as written) is in `containers`, and reports per entry
 * what it did; it prints nothing.
 *
 * This stand-in attaches each entry whose container runs through the attach
 * command's own code (no drift repair, no prune): enough for watch, where
 * the NIC is back in the host by the time a container starts again.
 */
import { HostnicError } from '../errors.js';
import { attachCommand } from '../commands/attach.js';
import type { Ctx } from '../cli/context.js';
import { resolveTarget } from '../runtime/resolve.js';
import type { Desired, DesiredEntry } from './file.js';

export type EntryAction = 'in-place' | 'attached' | 'repaired' | 'skipped' | 'failed';

export interface EntryResult {
  entry: DesiredEntry;
  action: EntryAction;
  /** Why it was skipped (container not running, NIC missing). */
  why?: string;
  /** Why it failed (rolled back). */
  error?: string;
  exitCode?: number;
}

export interface ReconcileReport {
  results: EntryResult[];
}

export async function reconcile(
  ctx: Ctx,
  desired: Desired,
  opts: { containers?: string[]; prune?: boolean; dryRun?: boolean } = {},
): Promise<ReconcileReport> {
  const wanted = desired.entries.filter((e) => !opts.containers || opts.containers.includes(e.container));
  const results: EntryResult[] = [];
  for (const entry of wanted) {
    try {
      await resolveTarget(entry.request.target);
    } catch (e) {
      if (!(e instanceof HostnicError)) throw e;
      results.push({ entry, action: 'skipped', why: e.message });
      continue;
    }
    let said = '';
    const quiet: Ctx = { ...ctx, json: false, quiet: false, renderer: 'silent', say: (l) => { said += l; }, emit: () => undefined };
    try {
      const r = entry.request;
      const code = await attachCommand({
        container: entry.container, nic: entry.nic, addresses: r.addresses.map((a) => (a.gateway ? `${a.cidr}@${a.gateway}` : a.cidr)),
        name: r.name, mac: r.mac, mtu: r.mtu === undefined ? undefined : String(r.mtu),
        route: r.routes.length ? r.routes.map((x) => (x.via ? `${x.dst}@${x.via}` : x.dst)) : undefined,
      }, quiet);
      if (code === 0) results.push({ entry, action: /already attached/.test(said) ? 'in-place' : 'attached' });
      else results.push({ entry, action: 'failed', error: `attach exited ${code}`, exitCode: code });
    } catch (e) {
      if (!(e instanceof HostnicError)) throw e;
      const missing = /^no NIC /.test(e.message);
      results.push({ entry, action: missing ? 'skipped' : 'failed', ...(missing ? { why: e.message } : { error: e.message }), exitCode: e.exitCode });
    } finally {
      ctx.locks.release();
    }
  }
  return { results };
}
