/**
 * hostnic __complete <what> [<container>]: the dynamic values of the shell
 * completions (completions/*), one per line.
 *
 * Shells of any user call it on every TAB, so it is cheap and quiet: one
 * `ip -json link show`, one listing per container runtime present, or one
 * read of the state directory; no listr2, no chalk; every failure (not root,
 * no runtime, unreadable state) prints nothing and exits 0. Values that a
 * shell could not take as one word (blanks, control characters) are left out.
 */
import { links } from '../kernel/ip.js';
import { loadRecords, type AttachmentRecord } from '../records.js';
import { hostnicAlive, unfinishedPlans } from '../runner/journal.js';
import { loadIncomplete } from '../incomplete.js';
import { StateDir, defaultStateDir } from '../state.js';

/** Past this, whatever is known is printed and hostnic exits (a hung daemon must not hang a TAB). */
const DEADLINE_MS = 2500;

const printable = (v: string): boolean => v !== '' && !/[\s\x00-\x1f\x7f]/.test(v);

/** The host's NICs: hostnic's own namespace, lo left out. */
async function nics(): Promise<string[]> {
  return (await links()).map((l) => l.ifname).filter((n) => n !== 'lo');
}

/**
 * Running containers, as `attach` takes them: the bare name where it names
 * one container, else the explicit forms (docker:web, containerd:ns/web).
 */
async function containers(): Promise<string[]> {
  let list: { runtime: string; name: string; id: string }[];
  try {
    list = await (await import('../runtime/index.js')).listRunningContainers();
  } catch {
    return [];
  }
  // containerd names are <namespace>/<name>; a bare word finds them in any namespace.
  const bare = (c: { runtime: string; name: string }): string =>
    c.runtime === 'containerd' ? c.name.slice(c.name.indexOf('/') + 1) : c.name;
  const idsByName = new Map<string, Set<string>>();
  for (const c of list) {
    const ids = idsByName.get(bare(c)) ?? new Set<string>();
    ids.add(c.id); // podman's docker shim reports a container twice under one id
    idsByName.set(bare(c), ids);
  }
  const out: string[] = [];
  for (const c of list) {
    const name = bare(c);
    out.push((idsByName.get(name)?.size ?? 0) > 1 ? `${c.runtime}:${c.name}` : name);
  }
  return out;
}

/** How detach takes an attachment's container: the bare runtime name, else how attach displayed it. */
function containerWord(r: AttachmentRecord): string {
  const t = r.input.target;
  return t.runtime && t.runtime.name !== 'containerd' ? t.runtime.containerName : t.display;
}

function belongsTo(r: AttachmentRecord, word: string): boolean {
  const t = r.input.target;
  if (word === containerWord(r) || word === t.display || word === t.nsPath) return true;
  if (t.pid !== undefined && word === `pid:${t.pid}`) return true;
  if (t.nsPath.startsWith('/run/netns/') && word === `netns:${t.nsPath.slice('/run/netns/'.length)}`) return true;
  const rt = t.runtime;
  if (!rt) return false;
  const ref = word.replace(/^(docker|podman|containerd):(.*\/)?/, '');
  return ref === rt.containerName || (ref.length >= 4 && rt.id.startsWith(ref));
}

function attached(stateDir: string | undefined): AttachmentRecord[] {
  return loadRecords(new StateDir(stateDir || defaultStateDir())).records;
}

export async function completeValues(what: string, args: readonly string[], stateDir?: string): Promise<string[]> {
  switch (what) {
    case 'nics': return nics();
    case 'containers': return containers();
    case 'attached-containers': return attached(stateDir).map(containerWord);
    // For `recover --abandon`: the plans a dead hostnic left (a running one cannot be abandoned), and the incomplete restores.
    case 'unfinished-plans': {
      const state = new StateDir(stateDir || defaultStateDir());
      return [...unfinishedPlans(state).journals.filter((j) => !hostnicAlive(j)).map((j) => j.id), ...loadIncomplete(state).notes.map((n) => n.id)];
    }
    case 'attached-nics': {
      const [container] = args;
      return attached(stateDir).filter((r) => !container || belongsTo(r, container)).map((r) => r.input.host.name);
    }
    default: return [];
  }
}

/** The command: print the values, one per line, sorted and unique; never an error. */
export async function completeCommand(what: string, args: readonly string[], stateDir?: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), DEADLINE_MS); });
  let values: string[] = [];
  let timedOut = false;
  try {
    const got = await Promise.race([completeValues(what, args, stateDir), late]);
    if (got === 'late') timedOut = true;
    else values = got;
  } catch {
    values = [];
  } finally {
    clearTimeout(timer);
  }
  const lines = [...new Set(values.filter(printable))].sort();
  if (lines.length) process.stdout.write(`${lines.join('\n')}\n`);
  process.exitCode = 0;
  // A runtime client still waiting on a hung daemon must not keep the shell waiting.
  if (timedOut) process.exit(0);
}
