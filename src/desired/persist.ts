/**
 * The desired-state file as a step of attach --persist and detach: the new
 * text is computed under the file's lock, and written by a journaled
 * `file.write` step (temporary file, fsync, rename; its undo puts the old
 * file back), so a plan that fails or is interrupted leaves the file as it
 * was.
 */
import { HostnicError, UsageError } from '../errors.js';
import { recordForSpec, recordWanted, type AttachmentRecord } from '../records.js';
import type { AttachRequest } from '../request/types.js';
import { makeStep } from '../steps/index.js';
import type { StepSpec } from '../steps/types.js';
import { removeEntries, upsertEntry } from './edit.js';
import { defaultDesiredPath, readDesiredText } from './file.js';

/** The lock (and plan identity) of the desired-state file: one writer at a time. */
export const desiredKey = (path: string): string => `file:${path}`;

export interface FileChange {
  path: string;
  key: string;
  step: StepSpec<'file.write'>;
  what: string;
}

function writeStep(path: string, content: string, title: string): StepSpec<'file.write'> {
  return makeStep('file.write', 'desired.write', title, { path, content, mode: '0644' }, { undoTitle: `Put ${path} back as it was` });
}

/** attach --persist: refused (exit 2) for a target the file cannot hold, before anything is looked at. */
export function checkPersistable(req: AttachRequest): void {
  if (req.target.kind === 'pid' || req.target.kind === 'path') {
    throw new UsageError('--persist needs a container the file can name after a restart (docker:NAME, podman:NAME, containerd:ID, NAME or netns:NAME), not a pid or a path');
  }
}

/**
 * The step that writes this attach's entry (or replaces the entry of the
 * same container and NIC); undefined when the file already says exactly so.
 * A bad file, or an entry that would make it bad, is refused (exit 2).
 */
export function persistChange(container: string, nic: string, req: AttachRequest, path = defaultDesiredPath()): FileChange | undefined {
  const text = readDesiredText(path);
  const content = upsertEntry(text, path, container, nic, req);
  if (content === text) return undefined;
  return { path, key: desiredKey(path), step: writeStep(path, content, `Write the entry of ${container} ${nic} in ${path}`), what: `entry written in ${path}` };
}

/**
 * detach: the step that removes the entries of this attachment, if the file
 * has any. A file that cannot be read or is bad does not stop a detach
 * (giving a NIC back matters more): `warning` says the entry stays.
 */
export function forgetChange(rec: AttachmentRecord, path = defaultDesiredPath()): { change?: FileChange; warning?: string } {
  try {
    const text = readDesiredText(path);
    if (text === null) return {};
    const { text: content, removed } = removeEntries(text, path, (e) => recordWanted(rec, e.request) && recordForSpec(rec, e.request.target));
    if (removed.length === 0) return {};
    const lines = removed.map((e) => e.line).join(', ');
    return {
      change: { path, key: desiredKey(path), step: writeStep(path, content, `Remove the entry of ${rec.input.target.display} ${rec.input.host.name} from ${path} (line ${lines})`), what: `entry removed from ${path}` },
    };
  } catch (e) {
    if (!(e instanceof HostnicError)) throw e;
    return { warning: `${e.message}; its entry for ${rec.input.host.name}, if any, stays (fix the file, then remove it by hand)` };
  }
}
