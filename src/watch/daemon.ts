/**
 * The reconciler behind `hostnic watch`. It follows the runtimes' events
 * (runtime/events.ts) and keeps the desired file applied:
 *
 *  - a container's start: settle what its dead namespace left (settle.ts),
 *    then reconcile that container's entries;
 *  - its death or removal: settle (a returned physical NIC gets its host
 *    identity back, so the next start finds it);
 *  - a resync (every entry's container) at start, after a runtime's stream
 *    comes back, every `resyncSeconds`, and when the desired file changes.
 *
 * Work is serialized per container (the entries' containerKey): one job at a
 * time per container, and an event that comes while its job runs makes the
 * job run once more after it, never twice at once. Different containers run
 * side by side; the per-NIC locks order what they share. Each container has
 * its own Locks (a lock set belongs to one flow of work) and its own context.
 */
import { existsSync, watch as watchFs, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Ctx } from '../cli/context.js';
import { HostnicError } from '../errors.js';
import { loadDesired, type Desired } from '../desired/file.js';
import { reconcile, type ReconcileReport } from '../desired/reconcile.js';
import { Locks } from '../runner/locks.js';
import { containerdSource, dockerSource, follow, podmanSource, type RuntimeEvent, type Source } from '../runtime/events.js';
import type { Logger } from './log.js';
import { containerKey, keysFor, wantsContainerdNames } from './match.js';
import { containerdRuntime } from '../runtime/containerd.js';
import { deadRecords, settle } from './settle.js';

export interface WatchOptions {
  file: string;
  resyncSeconds: number;
  log: Logger;
  /** Default: Docker, Podman, containerd. */
  sources?: Source[];
}

/** How long a container that died is looked at again for its physical NIC's return (the namespace goes after the process). */
const RETURN_WAIT_MS = [50, 100, 200, 400, 800, 1500];
const FILE_DEBOUNCE_MS = 200;

interface Slot {
  again: boolean;
  /** A death was seen: wait for the physical NIC to come back. */
  died: boolean;
  done: Promise<void>;
}

export class Watcher {
  private desired: Desired = { path: '', entries: [] };
  private readonly stop = new AbortController();
  private readonly slots = new Map<string, Slot>();
  /** containerd namespace/ids and the names nerdctl gave them, learnt from their events (onEvent). */
  private readonly ctrdNames = new Map<string, string>();
  private readonly ctxs = new Map<string, Ctx>();
  private resyncTimer?: NodeJS.Timeout;
  private fileTimer?: NodeJS.Timeout;
  private fsWatcher?: FSWatcher;
  private resyncing?: Promise<void>;
  private resyncAgain = false;
  private followers: Promise<void>[] = [];

  constructor(private readonly ctx: Ctx, private readonly opts: WatchOptions) {}

  get stopping(): boolean {
    return this.stop.signal.aborted;
  }

  /** Read the desired file; a missing file wants nothing (yet). Throws a HostnicError for a bad file. */
  load(): Desired {
    const { file, log } = this.opts;
    if (!existsSync(file)) {
      log('desired-missing', `no desired file at ${file} yet: nothing to keep attached until it is written`, { file });
      return { path: file, entries: [] };
    }
    const d = loadDesired(file);
    log('desired-loaded', `${file}: ${d.entries.length} entr${d.entries.length === 1 ? 'y' : 'ies'}`, { file, entries: d.entries.length });
    return d;
  }

  /** Start following; resolves once the first resync is done. */
  async start(first: Desired): Promise<void> {
    this.desired = first;
    this.watchFile();
    const hooks = {
      onEvent: (ev: RuntimeEvent) => this.onEvent(ev),
      onUp: (rt: string) => {
        this.opts.log('runtime-up', `${rt}: following its events`, { runtime: rt });
        this.resync(`${rt} events (re)connected`).catch(() => undefined);
      },
      onDown: (rt: string, why: string) => this.opts.log('runtime-down', `${rt}: not following its events (${why}); trying again with backoff`, { runtime: rt, why }),
    };
    const sources = this.opts.sources ?? [dockerSource(), podmanSource(), containerdSource()];
    this.followers = sources.map((s) => follow(s, hooks, this.stop.signal));
    await this.resync('start');
    this.scheduleResync();
  }

  /** Stop following; wait for the jobs in flight (the runner rolls back a plan a signal interrupted). */
  async shutdown(): Promise<void> {
    this.stop.abort();
    clearTimeout(this.resyncTimer);
    clearTimeout(this.fileTimer);
    this.fsWatcher?.close();
    await Promise.all([...this.followers, ...[...this.slots.values()].map((s) => s.done), this.resyncing]);
  }

  private scheduleResync(): void {
    if (this.stopping || this.opts.resyncSeconds <= 0) return;
    this.resyncTimer = setTimeout(() => {
      if (!this.fsWatcher) this.reload(); // the file's directory could not be followed
      this.resync('periodic').finally(() => this.scheduleResync()).catch(() => undefined);
    }, this.opts.resyncSeconds * 1000);
  }

  private onEvent(event: RuntimeEvent): void {
    // ctr's events carry the id only: the name nerdctl gave a container (its label) is asked for at its
    // start or its stop (a task's exit: the container is still there), and kept until it is deleted.
    const ctrdKey = `${event.namespace ?? ''}/${event.id}`;
    const named = event.runtime === 'containerd' ? this.ctrdNames.get(ctrdKey) : undefined;
    const ev = named ? { ...event, name: named } : event;
    if (ev.runtime === 'containerd' && ev.action === 'destroy') this.ctrdNames.delete(ctrdKey);
    const keys = keysFor(this.desired.entries, ev);
    if (keys.length === 0 && ev.runtime === 'containerd' && ev.action !== 'destroy' && !named && wantsContainerdNames(this.desired.entries)) {
      containerdRuntime().find(ev.id, ev.namespace ? { namespace: ev.namespace } : {})
        .then(([found]) => {
          if (!found) return;
          this.ctrdNames.set(ctrdKey, found.name); // also a container without one (its id): asked once
          if (found.name !== ev.id) this.onEvent(ev);
        })
        .catch(() => undefined); // containerd went meanwhile: its events coming back bring a resync
      return;
    }
    if (keys.length === 0) return;
    this.opts.log('container', `${ev.runtime} ${ev.name}: ${ev.action}`, { runtime: ev.runtime, name: ev.name, id: ev.id, action: ev.action });
    for (const key of keys) this.enqueue(key, ev.action !== 'start').catch(() => undefined);
  }

  /** Every entry's container, once; a resync asked for while one runs makes one more after it. */
  resync(why: string): Promise<void> {
    if (this.resyncing) {
      this.resyncAgain = true;
      return this.resyncing;
    }
    this.resyncing = (async () => {
      do {
        this.resyncAgain = false;
        if (this.stopping) break;
        const keys = [...new Set(this.desired.entries.map((e) => containerKey(e.container)))];
        this.opts.log('resync', `resync (${why}): ${keys.length} container(s)`, { why, containers: keys.length });
        await Promise.all(keys.map((k) => this.enqueue(k, false)));
      } while (this.resyncAgain);
    })().finally(() => { this.resyncing = undefined; });
    return this.resyncing;
  }

  /** Run the job of a container, or have the running one run once more. */
  private enqueue(key: string, died: boolean): Promise<void> {
    const cur = this.slots.get(key);
    if (cur) {
      cur.again = true;
      cur.died ||= died;
      return cur.done;
    }
    const slot: Slot = { again: false, died, done: Promise.resolve() };
    slot.done = (async () => {
      try {
        do {
          slot.again = false;
          const wait = slot.died;
          slot.died = false;
          if (this.stopping) break;
          await this.job(key, wait).catch((e: unknown) => {
            this.opts.log('error', `${key}: ${e instanceof Error ? e.message : String(e)}`, { container: key });
          });
        } while (slot.again && !this.stopping);
      } finally {
        this.slots.delete(key);
      }
    })();
    this.slots.set(key, slot);
    return slot.done;
  }

  private ctxFor(key: string): Ctx {
    let c = this.ctxs.get(key);
    if (!c) this.ctxs.set(key, (c = { ...this.ctx, locks: new Locks(this.ctx.state) }));
    return c;
  }

  /** Settle what the container's dead namespaces left, then make its entries as desired. */
  private async job(key: string, died: boolean): Promise<void> {
    const ctx = this.ctxFor(key);
    const entries = this.desired.entries.filter((e) => containerKey(e.container) === key);
    if (entries.length === 0) return;
    const refs = [...new Set(entries.map((e) => e.container))];
    for (const delay of [0, ...(died ? RETURN_WAIT_MS : [])]) {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (this.stopping) return;
      const dead = refs.flatMap((ref) => deadRecords(ctx, ref));
      let waiting = 0;
      for (const rec of dead) {
        if (this.stopping) return;
        if ((await settle(ctx, rec, this.opts.log)) === 'not yet') waiting++;
      }
      if (waiting === 0) break;
      if (delay === RETURN_WAIT_MS.at(-1)) {
        this.opts.log('waiting', `${key}: ${waiting} NIC(s) of a dead namespace not back in the host yet; looked at again at the next event or resync`, { container: key });
      }
    }
    if (this.stopping) return;
    const report = await reconcile(ctx, { ...this.desired, entries }, { containers: refs });
    this.report(report, died);
  }

  private report(report: ReconcileReport, quietSkips: boolean): void {
    for (const e of report.entries) {
      const fields = { container: e.container, nic: e.nic, line: e.line };
      // What a person or a DHCP client changed besides hostnic's settings: said, never undone.
      if (e.besides?.length) this.opts.log('besides', `${e.container} ${e.nic}: left as found: ${e.besides.join('; ')}`, fields);
      switch (e.action) {
        case 'in-place':
          break; // nothing done, nothing to say: a resync of a quiet host logs one line
        case 'attached':
        case 'repaired':
          this.opts.log(e.action, `${e.action} ${e.nic} to ${e.container}${e.drift?.length ? ` (drift: ${e.drift.join(', ')})` : ''}`, fields);
          break;
        case 'skipped':
          // The runtime away (a daemon restarting): said even after a death; its events coming back bring a resync.
          if (e.why === 'runtime-unavailable') this.opts.log('waiting', `${e.container} ${e.nic}: ${e.detail}; applied again when its events are back`, { ...fields, why: e.why });
          else if (!quietSkips) this.opts.log('skipped', `${e.container} ${e.nic}: waiting (${e.why ?? 'skipped'})`, { ...fields, why: e.why });
          break;
        case 'failed':
          this.opts.log('failed', `${e.container} ${e.nic}: ${e.error ?? 'failed'}`, { ...fields, error: e.error });
          break;
      }
    }
  }

  /** Follow the desired file's directory (an editor replaces the file by rename); a change is read after a quiet moment. */
  private watchFile(): void {
    const { file } = this.opts;
    try {
      this.fsWatcher = watchFs(dirname(file), { persistent: false }, (_type, name) => {
        if (name !== null && name !== basename(file)) return;
        clearTimeout(this.fileTimer);
        this.fileTimer = setTimeout(() => this.reload(), FILE_DEBOUNCE_MS);
      });
      this.fsWatcher.on('error', () => undefined);
    } catch (e) {
      this.opts.log('desired-missing', `cannot follow ${dirname(file)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): changes to ${file} are read at the periodic resync`, { file });
    }
  }

  private reload(): void {
    if (this.stopping) return;
    let next: Desired;
    try {
      next = this.load();
    } catch (e) {
      if (!(e instanceof HostnicError)) throw e;
      this.opts.log('desired-bad', `${e.message}; keeping the last good state (${this.desired.entries.length} entries)`, { error: e.message });
      return;
    }
    const text = (e: Desired['entries'][number]) => JSON.stringify({ c: containerKey(e.container), n: e.nic, r: e.request });
    const before = new Set(this.desired.entries.map(text));
    const after = new Set(next.entries.map(text));
    for (const e of this.desired.entries) {
      if (!after.has(text(e))) this.opts.log('entry-removed', `${e.container} ${e.nic}: no longer desired; left as it is (hostnic detach gives it back)`, { container: e.container, nic: e.nic });
    }
    const changed = [...new Set(next.entries.filter((e) => !before.has(text(e))).map((e) => containerKey(e.container)))];
    this.desired = next;
    for (const key of changed) this.enqueue(key, false).catch(() => undefined);
  }
}
