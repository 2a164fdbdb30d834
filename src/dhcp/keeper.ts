/**
 * What `hostnic watch` does for DHCP clients, every few seconds: a client
 * that died while its container lives is started again (its event script
 * applies a lease that changed meanwhile); a client whose target is gone but
 * that lives on because it shares hostnic's pid namespace (a `pid:` target,
 * `--pid=host`), and so keeps the namespace and the NIC in it, is stopped.
 * Under the attachment's locks, taken only to look: the client is started
 * after they are let go, since its event script may need them.
 */
import { run } from '../exec.js';
import { targetAlive } from '../runtime/resolve.js';
import { liveCheck } from '../observe/live.js';
import { planSections } from '../plan/attach.js';
import { appliedLease, loadRecords, type AttachmentRecord } from '../records.js';
import { nsKey } from '../runner.js';
import { Locks } from '../runner/locks.js';
import type { StateDir } from '../state.js';
import { clientCmd, readLease } from '../steps/dhcp.js';
import type { Logger } from '../watch/log.js';
import { clientsOf, stopClients } from './client.js';
import { appliedPart } from './lease.js';
import { renewed } from './renew.js';
import { noteRenewal, readNote } from './status.js';

/** The container of a record still lives: its process (or its namespace path) names the recorded namespace. */
function targetLives(rec: AttachmentRecord): boolean {
  const t = rec.input.target;
  return targetAlive(t.pid !== undefined ? { ...t, nsPath: `/proc/${t.pid}/ns/net` } : t);
}

/**
 * Stop the client of `rec` when it outlives its target: it shares hostnic's
 * pid namespace, so no kernel ends it, and it keeps the dead target's
 * namespace (and the NIC in it) alive. Returns the pids stopped. A client in
 * the container's own pid namespace is left to the kernel.
 */
async function endOrphan(rec: AttachmentRecord): Promise<number[]> {
  const lease = rec.input.dhcp?.lease;
  if (!lease) return [];
  const running = clientsOf(lease, rec.input.target.nsId);
  if (!running.length || targetLives(rec) || !running.every((c) => c.hostPidNs)) return [];
  await stopClients(lease, { nsId: rec.input.target.nsId });
  return running.map((c) => c.pid);
}

/** What `hostnic recover` (and so watch at start) does: every client whose target is gone, stopped. */
export async function endOrphanClients(state: StateDir): Promise<{ rec: AttachmentRecord; pids: number[] }[]> {
  const out: { rec: AttachmentRecord; pids: number[] }[] = [];
  for (const rec of loadRecords(state).records) {
    const pids = await endOrphan(rec);
    if (pids.length) out.push({ rec, pids });
  }
  return out;
}

/** The line watch and recover say for a client they stopped. */
export const orphanLine = (rec: AttachmentRecord, pids: number[]): string =>
  `stopped the DHCP client of ${rec.input.ctrName} (pid ${pids.join(', ')}): ${rec.input.target.display} is gone`;

async function keepOne(rec: AttachmentRecord, state: StateDir, log: Logger): Promise<void> {
  const lease = rec.input.dhcp!.lease;
  const i = rec.input;
  const what = { container: i.target.display, nic: i.host.name };
  const stopped = await endOrphan(rec);
  if (stopped.length) {
    log('dhcp-stopped', orphanLine(rec, stopped), what);
    return;
  }
  if (!targetLives(rec)) return;
  if (clientsOf(lease, i.target.nsId).length) {
    // Renewed with other values: applied here, on the host's side (the event script leaves it to watch).
    const now = (() => { try { return readLease(lease); } catch { return undefined; } })(); // being written, or gone with a detach
    const applied = appliedLease(rec);
    // A lease came after the note and is the one applied: the note no longer stands (a note of a lease
    // the script could not take stays until then: the lease file still holds the one before it).
    if (!now || !applied) return;
    const same = appliedPart(now) === appliedPart(applied);
    const note = readNote(lease);
    if (same && note && now.at > Date.parse(note.at) / 1000) noteRenewal(lease, undefined);
    if (!same) {
      const done = await renewed(lease, now);
      noteRenewal(lease, done === 'applied' ? undefined : done);
      if (done === 'applied') log('dhcp-renewed', `applied the renewed DHCP lease of ${i.ctrName} in ${i.target.display} (${now.ip}/${now.prefix})`, what);
      else if (done) log('failed', done, what);
    }
    return;
  }
  const locks = new Locks(state);
  let start: boolean;
  try {
    await locks.take([i.host.name, i.host.mac, nsKey(i.target.nsId)]);
    const still = loadRecords(state).records.find((r) => r.id === rec.id);
    start = !!still && clientsOf(lease, i.target.nsId).length === 0 && (await liveCheck(still)).status === 'in place';
  } finally {
    locks.release();
  }
  if (!start) return;
  const step = planSections(i).ctr.find((s) => s.kind === 'dhcp.client');
  if (step?.kind !== 'dhcp.client') return;
  // nsenter opens /proc/PID/ns/*: the container may have died since the look (its pid then names
  // another process, maybe in another namespace). Looked at again just before, to a spawn's width.
  if (!targetLives(rec)) return;
  try {
    await run(clientCmd(step.params, { background: true }));
    log('dhcp-restarted', `restarted the DHCP client of ${i.ctrName} in ${i.target.display} (it had stopped)`, what);
  } catch (e) {
    log('failed', `could not restart the DHCP client of ${i.ctrName} in ${i.target.display}: ${(e as Error).message.split('\n')[0]}`, what);
  }
}

/** Check every `intervalMs` until stopped. */
export function startDhcpKeeper(state: StateDir, log: Logger, intervalMs = 5000): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();
  const tick = (): void => {
    pass = (async () => {
      for (const rec of loadRecords(state).records) {
        if (stopped) return;
        if (!rec.input.dhcp) continue;
        try {
          await keepOne(rec, state, log);
        } catch (e) {
          log('error', `DHCP client of ${rec.input.ctrName}: ${(e as Error).message.split('\n')[0]}`, {});
        }
      }
    })().finally(() => {
      if (!stopped) timer = setTimeout(tick, intervalMs);
    });
  };
  tick();
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await pass;
    },
  };
}
