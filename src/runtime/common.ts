/**
 * What the runtime clients share: the answer shape, and presence checks that
 * cost no process and no connection.
 *
 * HTTP to a daemon's socket goes through ./http.ts (node:http); every process
 * a runtime client starts goes through src/exec.ts.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export type RuntimeName = 'docker' | 'podman' | 'containerd';

/** One container as a runtime reports it. */
export interface Found {
  runtime: RuntimeName;
  /** Full id. */
  id: string;
  /** Name without a leading '/' (containerd: the nerdctl name label, else the id). */
  name: string;
  /** containerd namespace. */
  namespace?: string;
  running: boolean;
  /** PID of the container's init process; 0 when it has none. */
  pid: number;
}

export interface Listed {
  runtime: RuntimeName;
  name: string;
  id: string;
}

export interface Runtime {
  readonly name: RuntimeName;
  /**
   * Whether this runtime is on the host, judged without starting a process or
   * opening a connection (a socket file, a program on PATH).
   */
  present(): boolean;
  /**
   * Containers matching `ref` (name, full id, or unique id prefix where the
   * runtime supports it), running or not; [] when there is none.
   * Throws UsageError when the ref is ambiguous inside this runtime, and
   * RuntimeUnavailable when the runtime does not answer.
   */
  find(ref: string, scope?: { namespace?: string; anyNamespace?: boolean }): Promise<Found[]>;
  /** Running containers, for shell completion. */
  listRunning(): Promise<Listed[]>;
}

/** The runtime is installed but did not answer (daemon down, hung, socket refused). */
export class RuntimeUnavailable extends Error {
  constructor(
    readonly runtime: RuntimeName,
    readonly reason: string,
  ) {
    super(`${runtime}: ${reason}`);
    this.name = 'RuntimeUnavailable';
  }
}

/** `unix:///path` or `unix:/path` -> /path; anything else -> undefined. */
export function unixPath(url: string | undefined): string | undefined {
  if (!url) return undefined;
  const m = /^unix:\/\/(\/.*)$/.exec(url) ?? /^unix:(\/.*)$/.exec(url);
  return m?.[1];
}

export function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}

/** The full path of an executable on PATH, found without running anything. */
export function onPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, program);
    try {
      if (!statSync(file).isFile()) continue;
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The fields hostnic reads from a Docker-style inspect document (Docker's
 * Engine API and CLI, Podman's libpod and compat APIs and CLI, nerdctl).
 */
export function fromInspect(runtime: RuntimeName, doc: unknown, namespace?: string): Found {
  const d = (doc ?? {}) as { Id?: unknown; ID?: unknown; Name?: unknown; State?: { Running?: unknown; Pid?: unknown } };
  const id = typeof d.Id === 'string' ? d.Id : typeof d.ID === 'string' ? d.ID : undefined;
  if (!id) throw new RuntimeUnavailable(runtime, 'inspect answer has no container id');
  const name = typeof d.Name === 'string' && d.Name !== '' ? d.Name.replace(/^\//, '') : id;
  const pid = typeof d.State?.Pid === 'number' ? d.State.Pid : 0;
  const running = d.State?.Running === true && pid > 0;
  return { runtime, id, name, running, pid, ...(namespace ? { namespace } : {}) };
}
