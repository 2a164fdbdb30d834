/**
 * What the CNI commands share: the context they run in (no terminal output:
 * stdout is the protocol's), finding a CNI attachment's record, and giving
 * one attachment back exactly as `hostnic detach` does.
 */
import { existsSync } from 'node:fs';
import { EXIT } from '../errors.js';
import { NsReads } from '../observe/live.js';
import { taggedView } from '../observe/tagged.js';
import { loadRecords, recordFromTag, type AttachmentRecord } from '../records.js';
import { Locks } from '../runner/locks.js';
import { resolveTarget } from '../runtime/resolve.js';
import type { Target } from '../runtime/types.js';
import { StateDir, defaultStateDir } from '../state.js';
import { decodeTag } from '../tag.js';
import { links } from '../kernel/ip.js';
import { detachRecord } from '../cli/detach-record.js';
import type { Ctx } from '../cli/context.js';
import { CniError, CODE, type CniEnv } from './protocol.js';

/** How long a CNI call waits for a lock another hostnic holds before it answers "try again later". */
const LOCK_WAIT_S = 10;

/** The context of a CNI call: the state directory (HOSTNIC_STATE_DIR honoured), locks, silent rendering, lines to stderr. */
export function cniContext(): Ctx {
  const state = new StateDir(defaultStateDir());
  return {
    state, locks: new Locks(state, LOCK_WAIT_S), dryRun: false, verbose: false, quiet: true, json: false, renderer: 'silent',
    say: (line) => { process.stderr.write(`hostnic: ${line}\n`); },
    emit: () => undefined,
  };
}

/** How a CNI target is shown (status, messages): the network and the container ID. */
export const cniDisplay = (network: string, containerId: string): string => `cni:${network}/${containerId.slice(0, 12)}`;

/** The container's namespace as a target named after the CNI attachment. */
export async function cniTarget(env: CniEnv, network: string): Promise<Target> {
  const t = await resolveTarget({ kind: 'path', path: env.netns });
  return { ...t, display: cniDisplay(network, env.containerId) };
}

/** The records of (container ID, network, ifname). */
export function cniRecords(ctx: Ctx, env: Pick<CniEnv, 'containerId' | 'ifname'>, network: string): AttachmentRecord[] {
  return loadRecords(ctx.state).records.filter((r) => r.cni
    && r.cni.containerId === env.containerId && r.cni.ifname === env.ifname && r.cni.network === network);
}

/**
 * Without a record (the state directory was lost), the NIC named CNI_IFNAME
 * in the container, if hostnic tagged it: its record rebuilt from the tag.
 */
export async function recordFromNetns(env: CniEnv, network: string): Promise<AttachmentRecord | undefined> {
  if (env.netns === '' || !existsSync(env.netns)) return undefined;
  let target: Target;
  try {
    target = await cniTarget(env, network);
  } catch {
    return undefined; // not a network namespace (any more)
  }
  const link = (await links(target.nsPath).catch(() => [])).find((l) => l.ifname === env.ifname);
  const tag = link ? decodeTag(link.ifalias) : undefined;
  if (!link || !tag) return undefined;
  return recordFromTag(link, tag, target, await taggedView(target.nsPath, link.ifname));
}

/**
 * Give one attachment back, as `hostnic detach` does, wherever its NIC is
 * now: in the container, back in the host (the namespace died: maybe as
 * devN), or gone (a virtual NIC died with it). Host settings that cannot
 * be restored once the NIC is home do not fail it (the spec wants DEL to
 * finish): they are said on stderr with their commands, and kept for
 * `hostnic status` (src/incomplete.ts), as for detach. A detach that was
 * rolled back (the NIC is still inside) is an error, so the runtime retries.
 */
export async function release(rec: AttachmentRecord, ctx: Ctx): Promise<void> {
  const i = rec.input;
  const d = await detachRecord(rec, ctx, new NsReads());
  if (d.meanwhile) return;
  const { live, notes, outcome } = d;
  // Home with host settings left (written down for `hostnic status`) is done: DEL must finish.
  if (outcome.exitCode === EXIT.ok || (outcome.exitCode === EXIT.incomplete && outcome.notDone?.length)) {
    if (live.where === 'gone') ctx.say(`${i.host.name}: ${live.detail}; record removed`);
    for (const n of notes) ctx.say(`note: ${n}`);
    return;
  }
  const why = outcome.error?.message ?? outcome.signal ?? 'failed';
  if (outcome.leftovers.length) throw new CniError(CODE.incomplete, `giving ${i.host.name} back failed (${why}) and the rollback is incomplete`, 'run `hostnic recover`');
  throw new CniError(CODE.rolledBack, `giving ${i.host.name} back failed and was rolled back: ${why}`, 'the NIC is still in the container; DEL again');
}
