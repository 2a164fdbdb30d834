/**
 * Incomplete restores: a detach (or CNI DEL) that brought the NIC home but
 * could not restore some host settings (best-effort steps whose commands
 * failed: exit 3 for the CLI, success with a message for CNI DEL). Its
 * record is gone (nothing is left in the container), so a note in
 * `<state>/incomplete/<record id>.json` keeps what is left to do: `hostnic
 * status` lists it until a person has run the commands and drops it with
 * `hostnic recover --abandon ID`.
 *
 * The commands are text for a person, never run by hostnic. Like every
 * state file, a note is validated before use (incompleteProblem): one that
 * fails is reported, not shown as if hostnic wrote it.
 */
import { join } from 'node:path';
import type { Leftover } from './runner.js';
import { SCHEMA, type StateDir } from './state.js';
import { fail, needArray, needHexId, needIfName, needObject, needString } from './steps/shapes.js';
import { problemOf } from './steps/validate.js';
import { printable } from './request/text.js';

export interface IncompleteNote {
  schema: typeof SCHEMA;
  kind: 'incomplete';
  /** The attachment's id (its record is gone). */
  id: string;
  createdAt: string;
  /** The NIC's host name, and where it had been (the record's target, `cni:NETWORK/ID` for CNI). */
  nic: string;
  target: string;
  cni?: { containerId: string; network: string; ifname: string };
  /** What could not be restored: as `hostnic detach --json` reports it (notDone). */
  notDone: Leftover[];
}

/** Text for a person: no control characters but newlines (a rendered `ip -batch` command has its input on the next lines). */
/** What a note holds (checked when read back): lines, and commands per line. */
const MAX_LINES = 256;
const MAX_COMMANDS = 64;

function needText(v: unknown, at: string, max: number): void {
  if (typeof v !== 'string') fail(at, `not a string (${typeof v})`);
  needString((v as string).replace(/\n/g, ' '), at, max);
}

const MAX_TEXT = 4096;

/** Why a note (file `name` in incomplete/) must not be used, or undefined. */
export function incompleteProblem(v: unknown, name: string): string | undefined {
  return problemOf(() => {
    const n = needObject(v, 'note', ['schema', 'kind', 'id', 'createdAt', 'nic', 'target', 'notDone'], ['cni']);
    if (n.kind !== 'incomplete') fail('kind', 'not "incomplete"');
    const id = needHexId(n.id, 'id');
    if (name !== `${id}.json`) fail('id', `${id} is not the file's own name`);
    needString(n.createdAt, 'createdAt', 64);
    needIfName(n.nic, 'nic');
    needString(n.target, 'target', 1024);
    if (n.cni !== undefined) {
      const c = needObject(n.cni, 'cni', ['containerId', 'network', 'ifname']);
      needString(c.containerId, 'cni.containerId', 1024);
      needString(c.network, 'cni.network', 1024);
      needIfName(c.ifname, 'cni.ifname');
    }
    needArray(n.notDone, 'notDone', { min: 1, max: MAX_LINES }).forEach((l, i) => {
      const o = needObject(l, `notDone[${i}]`, ['title', 'error', 'commands']);
      needString(o.title, `notDone[${i}].title`);
      needText(o.error, `notDone[${i}].error`, MAX_TEXT);
      needArray(o.commands, `notDone[${i}].commands`, { max: MAX_COMMANDS }).forEach((c, k) => needText(c, `notDone[${i}].commands[${k}]`, MAX_TEXT));
    });
  });
}

export function loadIncomplete(state: StateDir): { notes: IncompleteNote[]; bad: { file: string; error: string }[] } {
  const { items, bad } = state.readAll<IncompleteNote>(state.incompleteDir, incompleteProblem);
  return { notes: items, bad };
}

/** Keep what a detach left undone (atomically, 0600); returns the note's path. */
export function writeIncomplete(state: StateDir, note: Omit<IncompleteNote, 'schema' | 'kind' | 'createdAt'>): string {
  state.ensureIncomplete();
  const value: IncompleteNote = {
    schema: SCHEMA, kind: 'incomplete', id: note.id, createdAt: new Date().toISOString(), nic: note.nic, target: note.target,
    ...(note.cni ? { cni: note.cni } : {}),
    notDone: withinLimits(note.notDone).map((l) => ({
      title: printable(l.title, MAX_TEXT).replace(/\n/g, ' '), error: printable(l.error, MAX_TEXT), commands: l.commands.map((c) => printable(c, MAX_TEXT)),
    })),
  };
  const path = join(state.incompleteDir, `${needHexId(note.id, 'id')}.json`);
  state.writeJson(path, value);
  return path;
}

/**
 * As many lines as a note holds when it is read back (256, each with 64
 * commands at most): one line per failed command (a NIC with hundreds of
 * routes whose gateway is gone) is merged by step, then by chunks of
 * commands, so the note stays one a person can read and clear.
 */
function withinLimits(lines: IncompleteNote['notDone']): IncompleteNote['notDone'] {
  if (lines.length <= MAX_LINES && lines.every((l) => l.commands.length <= MAX_COMMANDS)) return lines;
  const byStep = new Map<string, IncompleteNote['notDone'][number]>();
  for (const l of lines) {
    const have = byStep.get(l.title);
    if (have) have.commands.push(...l.commands);
    else byStep.set(l.title, { ...l, commands: [...l.commands] });
  }
  const out = [...byStep.values()].flatMap((l) => Array.from({ length: Math.max(1, Math.ceil(l.commands.length / MAX_COMMANDS)) }, (_, k) => ({
    ...l, commands: l.commands.slice(k * MAX_COMMANDS, (k + 1) * MAX_COMMANDS),
  })));
  if (out.length <= MAX_LINES) return out;
  const rest = out.length - MAX_LINES + 1;
  return [...out.slice(0, MAX_LINES - 1), { title: `and ${rest} more groups of commands`, error: 'too many to keep: see the output of the command that left this note', commands: [] }];
}

/**
 * A give-back that brought the NIC home without all of its host settings
 * (best-effort steps that failed, exit 3; the record is gone with the plan):
 * the note that keeps what is left, or undefined when nothing is.
 */
export function noteIncomplete(
  state: StateDir,
  rec: { id: string; input: { host: { name: string }; target: { display: string } }; cni?: { containerId: string; network: string; ifname: string } },
  outcome: { notDone?: Leftover[] },
): string | undefined {
  if (!outcome.notDone?.length) return undefined;
  return writeIncomplete(state, {
    id: rec.id, nic: rec.input.host.name, target: rec.input.target.display, notDone: outcome.notDone,
    ...(rec.cni ? { cni: { containerId: rec.cni.containerId, network: rec.cni.network, ifname: rec.cni.ifname } } : {}),
  });
}

/** How a person drops a note once the commands ran. */
export const clearHint = (id: string): string => `once done, \`hostnic recover --abandon ${id}\` clears it`;
