/**
 * The entries of the desired-state file that are not attached, and why
 * (hostnic status): their container is not running, their NIC is not on the
 * host, or apply has not run since. Read-only.
 */
import { HostnicError, NotRunning } from '../errors.js';
import { readNs } from '../kernel/ip.js';
import { describeSelector, findNic, hostLinks } from '../observe/host.js';
import { recordForSpec, recordWanted, type AttachmentRecord } from '../records.js';
import { resolveTarget } from '../runtime/resolve.js';
import { defaultDesiredPath, loadDesired } from './file.js';

export interface Waiting {
  line: number;
  container: string;
  nic: string;
  why: 'container-not-running' | 'nic-missing' | 'not-applied' | 'error';
  detail: string;
}

/** `error`: the file cannot be used (the message says why); no file: nothing waits. */
export async function waitingEntries(records: AttachmentRecord[], path = defaultDesiredPath()): Promise<{ path: string; waiting: Waiting[]; error?: string }> {
  let entries;
  try {
    entries = loadDesired(path, { missingOk: true }).entries;
  } catch (e) {
    if (e instanceof HostnicError) return { path, waiting: [], error: e.message };
    throw e;
  }
  let host: ReturnType<typeof hostLinks> | undefined;
  const waiting: Waiting[] = [];
  for (const e of entries) {
    const base = { line: e.line, container: e.container, nic: e.nic };
    let target;
    try {
      target = await resolveTarget(e.request.target);
    } catch (err) {
      if (!(err instanceof HostnicError)) throw err;
      waiting.push({ ...base, why: err instanceof NotRunning ? 'container-not-running' : 'error', detail: err.message });
      continue;
    }
    if (records.some((r) => recordWanted(r, e.request) && recordForSpec(r, e.request.target, target))) continue; // listed as an attachment
    host ??= hostLinks(await readNs());
    waiting.push(findNic(host, e.request.nic)
      ? { ...base, why: 'not-applied', detail: `${describeSelector(e.request.nic)} is on the host, not attached: run hostnic apply` }
      : { ...base, why: 'nic-missing', detail: `no NIC ${describeSelector(e.request.nic)} on the host` });
  }
  return { path, waiting };
}
