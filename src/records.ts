/** Attachment records: what attach did, so detach and status can reverse and verify it. */
import { join } from 'node:path';
import type { AttachInput } from './plan/attach.js';
import { SCHEMA, StateDir, isObject } from './state.js';

export interface AttachmentRecord {
  schema: typeof SCHEMA;
  kind: 'attachment';
  id: string;
  createdAt: string;
  input: AttachInput;
  /** What each attach step captured, in plan order (null where nothing). */
  saved: unknown[];
}

export function isRecord(v: unknown): v is AttachmentRecord {
  return isObject(v) && v.schema === SCHEMA && v.kind === 'attachment' && typeof v.id === 'string'
    && isObject(v.input) && Array.isArray(v.saved);
}

export const recordPath = (id: string): string => join('attachments', `${id}.json`);

export function loadRecords(state: StateDir): { records: AttachmentRecord[]; bad: { file: string; error: string }[] } {
  const { items, bad } = state.readAll(state.attachDir, isRecord);
  return { records: items, bad };
}
