/**
 * What the runtime clients share: the answer shape, presence checks that cost
 * no process and no connection, and a JSON GET over a unix socket.
 *
 * HTTP to a daemon's socket is done here directly (one HTTP/1.0 GET on a
 * node:net connection); every process a runtime client starts goes through
 * src/exec.ts.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';
import { UsageError } from '../errors.js';

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

/** How long a daemon gets to answer one request. A hung daemon must not hang hostnic. */
export const HTTP_TIMEOUT_MS = 2000;

/**
 * Container names and ids in Docker, Podman and containerd all fit this; so a
 * ref is checked once here and can then go into a URL path or a containerd
 * filter without escaping surprises.
 */
const REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}$/;

export function checkRef(ref: string, display: string): string {
  if (!REF.test(ref)) throw new UsageError(`${display}: not a valid container name or id`);
  return ref;
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

export interface HttpAnswer {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: unknown;
}

/**
 * GET a path on a daemon's unix socket and parse the JSON answer. Rejects with
 * RuntimeUnavailable on connection errors and after HTTP_TIMEOUT_MS.
 *
 * One HTTP/1.0 request on a plain socket, read to the end: the daemon
 * answers and closes. Not node:http, because its first request in a process
 * sets up the whole HTTP client and costs 9-14 ms here, against 2-3 ms for
 * this, on the path of every attach and detach (issue 7, measured).
 */
export function getJson(runtime: RuntimeName, socketPath: string, path: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      fn();
    };
    const fail = (reason: string) => settle(() => reject(new RuntimeUnavailable(runtime, reason)));
    const sock = createConnection(socketPath);
    // write, not end: a Go daemon that reads EOF on a request's connection cancels the request.
    sock.on('connect', () => sock.write(`GET ${path} HTTP/1.0\r\nHost: localhost\r\nAccept: application/json\r\n\r\n`));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => {
      let answer: HttpAnswer;
      try {
        answer = parseHttpAnswer(Buffer.concat(chunks));
      } catch (e) {
        fail(`${socketPath}: ${(e as Error).message}`);
        return;
      }
      settle(() => resolve(answer));
    });
    sock.on('error', (e: NodeJS.ErrnoException) => fail(`cannot talk to ${socketPath}: ${e.code ?? e.message}`));
    const timer = setTimeout(() => fail(`no answer on ${socketPath} within ${HTTP_TIMEOUT_MS / 1000} s`), HTTP_TIMEOUT_MS);
  });
}

/** Status and body of a whole HTTP/1.x response (identity or chunked body); throws on a malformed one. */
export function parseHttpAnswer(raw: Buffer): HttpAnswer {
  const head = raw.indexOf('\r\n\r\n');
  if (head < 0) throw new Error('incomplete HTTP answer');
  const lines = raw.subarray(0, head).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!status) throw new Error(`not an HTTP answer: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`);
  const chunked = lines.some((l) => /^transfer-encoding:.*chunked/i.test(l));
  let body = raw.subarray(head + 4);
  if (chunked) body = dechunk(body);
  const text = body.toString('utf8');
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // keep the text
  }
  return { status: Number(status[1]), body: parsed };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', at);
    if (eol < 0) throw new Error('truncated chunked body');
    const size = parseInt(data.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isFinite(size) || size < 0) throw new Error('bad chunk size');
    if (size === 0) return Buffer.concat(parts);
    if (eol + 2 + size > data.length) throw new Error('truncated chunked body');
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** The `message` of a daemon's JSON error body, or the text. */
export function errorMessage(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  return typeof body === 'string' ? body.trim() : JSON.stringify(body);
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
