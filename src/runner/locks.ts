/**
 * Locks per identity: a NIC's name, its MAC, a container's namespace, doctor's
 * host-wide files. Only work on the same identity waits; two plans on
 * different NICs run side by side.
 *
 * Each lock is flock(2) on <state>/locks/<key>: `flock` locks the descriptor
 * it inherits and exits, the lock stays with our copy of the descriptor, and
 * the kernel drops it when this process dies, so there is no stale lock.
 * Deadlock is ruled out by order: a process waits for a lock only while it
 * holds none, and then takes its keys one by one in sorted order. Without
 * waiting (`--nonblock`) it may try any key at any time; when one is busy it
 * lets go of everything and waits in order (callers then look again: what
 * they saw before may have changed).
 *
 * A lock file is removed when its lock is let go (a namespace key would
 * otherwise leave a file per container ever seen); whoever gets a lock checks
 * that the file it locked is still the one at that path, else tries again.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { RefusedError } from '../errors.js';
import type { StateDir } from '../state.js';

/**
 * The lock one `hostnic watch` per state directory holds for its whole life.
 * An interface named `watch` would share it (a name no NIC can take would be
 * safer, but a watch running across an upgrade and the DHCP event script of
 * the new version would then not see each other).
 */
export const WATCH_KEY = 'watch';

/**
 * Does another process hold `key` in this state directory now? Asked with a
 * shared, non-blocking flock that is let go at once (the `flock` process
 * exits): it never waits, and it never takes the key from its holder.
 */
export function heldByAnother(state: StateDir, key: string): Promise<boolean> {
  const path = join(state.root, 'locks', encodeURIComponent(key));
  if (!existsSync(path)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('flock', ['--shared', '--nonblock', path, 'true'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (c) => resolve(c !== 0));
  });
}

/** The lock key of a container's network namespace (Target.nsId). */
export const nsKey = (nsId: string): string => `ns:${nsId}`;

function flockFd(fd: number, waitSeconds?: number): Promise<boolean> {
  const mode = waitSeconds === undefined ? ['--nonblock'] : ['--wait', String(Math.max(1, Math.ceil(waitSeconds)))];
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', ...mode, '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    child.on('error', reject);
    child.on('exit', (c) => resolve(c === 0));
  });
}

export class Locks {
  private readonly held = new Map<string, { fd: number; path: string }>();
  private ready = false;

  constructor(private readonly state: StateDir, private readonly timeoutSeconds = 60) {}

  get dir(): string { return join(this.state.root, 'locks'); }

  /** The keys this process holds now. */
  keys(): string[] {
    return [...this.held.keys()].sort();
  }

  /** An empty key (the MAC of a link without one, e.g. a tun device) names nothing: always held. */
  holds(keys: readonly string[]): boolean {
    return keys.every((k) => k === '' || this.held.has(k));
  }

  private path(key: string): string {
    return join(this.dir, encodeURIComponent(key));
  }

  /** One attempt at one key; true: locked, and the file is still the one at its path. */
  private async tryOne(key: string, waitSeconds?: number): Promise<boolean> {
    const path = this.path(key);
    for (;;) {
      const fd = openSync(path, 'a', 0o600); // O_CLOEXEC: the commands hostnic runs do not inherit it
      let ok: boolean;
      try {
        ok = await flockFd(fd, waitSeconds);
        // Still linked (a removed file has no links left) and still the file at `path`.
        const st = ok ? fstatSync(fd) : undefined;
        if (st && st.nlink > 0 && st.ino === statSync(path, { throwIfNoEntry: false })?.ino) {
          this.held.set(key, { fd, path });
          return true;
        }
      } catch (e) {
        closeSync(fd);
        throw e;
      }
      closeSync(fd);
      if (!ok) return false;
      // Locked a file its holder removed on the way out: lock the new one.
    }
  }

  /**
   * Hold `keys` (with those held already). Resolves to `waited`: false when
   * every new key was free at once, true when this process let go of its
   * locks and waited for them all in order, so anything looked at under the
   * old ones must be looked at again.
   */
  async take(keys: readonly string[]): Promise<{ waited: boolean; ms: number }> {
    const started = performance.now();
    const want = [...new Set(keys)].filter((k) => k !== '' && !this.held.has(k)).sort();
    if (want.length === 0) return { waited: false, ms: 0 };
    await this.prepare();
    const got = await Promise.all(want.map((k) => this.tryOne(k)));
    if (got.every(Boolean)) return { waited: false, ms: performance.now() - started };
    const all = [...new Set([...this.held.keys(), ...want])].sort();
    this.release();
    const deadline = started + this.timeoutSeconds * 1000;
    for (const key of all) {
      if (!await this.tryOne(key, (deadline - performance.now()) / 1000)) {
        this.release();
        throw new RefusedError(
          `another hostnic has held the lock on ${key} for ${this.timeoutSeconds}s`,
          `is a hostnic process stuck? (fuser -v ${this.path(key)})`,
        );
      }
    }
    return { waited: true, ms: performance.now() - started };
  }

  /**
   * Hold `key` if it is free now, without waiting: true when it is ours. For
   * a lock held for a process's whole life (one `hostnic watch` per state
   * directory), not for a plan's keys.
   */
  async tryTake(key: string): Promise<boolean> {
    if (this.held.has(key)) return true;
    await this.prepare();
    return this.tryOne(key);
  }

  private async prepare(): Promise<void> {
    if (this.ready) return;
    // Let go on the way out, so the files go too (a process killed leaves them, unlocked, for the next one).
    process.once('exit', () => this.release());
    this.state.ensure();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    this.state.sweepTemporaries();
    this.ready = true;
  }

  /** Let go of some keys, or of all. */
  release(keys: readonly string[] = [...this.held.keys()]): void {
    for (const key of keys) {
      const h = this.held.get(key);
      if (!h) continue;
      this.held.delete(key);
      rmSync(h.path, { force: true }); // while still locked: a waiter sees the file gone and locks the next one
      closeSync(h.fd);
    }
  }
}
