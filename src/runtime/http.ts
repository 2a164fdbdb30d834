/**
 * HTTP to a container runtime's API socket (Docker's, Podman's), with
 * node:http over the unix socket: a JSON GET for lookups, and a stream of
 * JSON objects for event feeds (`GET /events`), which a daemon sends as one
 * long-lived chunked response, an object per line.
 *
 * Every request gets its own connection (`agent: false`, so `Connection:
 * close`): a lookup is one request, and an idle pooled connection would only
 * have to be cleaned up. Failures to reach or hear from the daemon are
 * RuntimeUnavailable, naming the socket: a daemon that is down, refuses, hangs
 * up, answers with something that is not HTTP, or does not answer in time.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { RuntimeUnavailable, type RuntimeName } from './common.js';

/** How long a daemon gets to answer one request (a lookup's whole answer; a stream's status line). */
export const HTTP_TIMEOUT_MS = 2000;

export interface HttpAnswer {
  status: number;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  body: unknown;
}

/** The `message` of a daemon's JSON error body, or the text. */
export function errorMessage(body: unknown): string {
  if (body && typeof body === 'object' && 'message' in body && typeof body.message === 'string') return body.message;
  return typeof body === 'string' ? body.trim() : JSON.stringify(body);
}

function parseBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Why a request failed, in words that name the socket. */
function reasonOf(e: NodeJS.ErrnoException, socketPath: string): string {
  const code = e.code ?? e.message;
  // llhttp's parse errors: something answered, but not in HTTP.
  if (code.startsWith('HPE_')) return `${socketPath}: not an HTTP answer (${code})`;
  return `cannot talk to ${socketPath}: ${code}`;
}

interface Exchange {
  req: ClientRequest;
  /** The response once its head arrived; rejects with RuntimeUnavailable. */
  head: Promise<IncomingMessage>;
}

function send(runtime: RuntimeName, socketPath: string, path: string, accept: string, signal?: AbortSignal): Exchange {
  const req = request({
    socketPath,
    path,
    method: 'GET',
    agent: false,
    headers: { Host: 'localhost', Accept: accept },
    ...(signal ? { signal } : {}),
  });
  const head = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', (e: NodeJS.ErrnoException) => reject(new RuntimeUnavailable(runtime, reasonOf(e, socketPath))));
  });
  req.end();
  return { req, head };
}

/**
 * GET a path on a daemon's unix socket and parse the JSON answer. Rejects with
 * RuntimeUnavailable on connection errors, on an answer that breaks off, and
 * when the whole answer has not come within HTTP_TIMEOUT_MS.
 */
export function getJson(runtime: RuntimeName, socketPath: string, path: string): Promise<HttpAnswer> {
  const { req, head } = send(runtime, socketPath, path, 'application/json');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RuntimeUnavailable(runtime, `no answer on ${socketPath} within ${HTTP_TIMEOUT_MS / 1000} s`)), HTTP_TIMEOUT_MS);
  });
  const answer = head.then(async (res) => {
    res.setEncoding('utf8');
    let text = '';
    try {
      for await (const chunk of res) text += chunk as string;
    } catch (e) {
      throw new RuntimeUnavailable(runtime, `${socketPath}: the answer broke off (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return { status: res.statusCode ?? 0, body: parseBody(text) };
  });
  return Promise.race([answer, late]).finally(() => {
    clearTimeout(timer);
    req.destroy();
  });
}

/**
 * GET a path whose answer is a stream of JSON objects, one per line (Docker's
 * and Podman's `/events`), and yield each object as it arrives.
 *
 * The daemon has HTTP_TIMEOUT_MS to answer with a status line; after that the
 * stream may stay quiet for as long as it likes. It ends when the daemon ends
 * the answer, or quietly when `signal` aborts (or the loop over it stops).
 * Throws RuntimeUnavailable when the daemon cannot be reached, answers with
 * another status than 200, sends a line that is not JSON, or the connection
 * drops in the middle of the answer (a daemon that died).
 */
export async function* streamJson(
  runtime: RuntimeName,
  socketPath: string,
  path: string,
  signal?: AbortSignal,
): AsyncGenerator<unknown, void, undefined> {
  if (signal?.aborted) return;
  const { req, head } = send(runtime, socketPath, path, 'application/json', signal);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new RuntimeUnavailable(runtime, `no answer on ${socketPath} within ${HTTP_TIMEOUT_MS / 1000} s`)), HTTP_TIMEOUT_MS);
  });
  const broken = (e: unknown) =>
    new RuntimeUnavailable(runtime, `${socketPath}: the stream of ${path} broke off (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  try {
    let res: IncomingMessage;
    try {
      res = await Promise.race([head, late]);
    } catch (e) {
      if (signal?.aborted) return;
      throw e;
    } finally {
      clearTimeout(timer);
    }
    res.setEncoding('utf8');
    if (res.statusCode !== 200) {
      let text = '';
      try {
        for await (const chunk of res) text += chunk as string;
      } catch { /* the status says enough */ }
      throw new RuntimeUnavailable(runtime, `HTTP ${res.statusCode}: ${errorMessage(parseBody(text))}`);
    }
    const parse = (line: string): unknown => {
      try {
        return JSON.parse(line);
      } catch {
        throw new RuntimeUnavailable(runtime, `${socketPath}: not JSON in the stream of ${path}: ${JSON.stringify(line.slice(0, 60))}`);
      }
    };
    let pending = '';
    try {
      for await (const chunk of res) {
        pending += chunk as string;
        for (let nl = pending.indexOf('\n'); nl >= 0 && !signal?.aborted; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) yield parse(line);
        }
        if (signal?.aborted) return;
      }
    } catch (e) {
      if (signal?.aborted) return;
      if (e instanceof RuntimeUnavailable) throw e;
      throw broken(e);
    }
    if (signal?.aborted) return;
    if (!res.complete) throw broken(new Error('connection closed'));
    if (pending.trim()) yield parse(pending.trim());
  } finally {
    clearTimeout(timer);
    req.destroy();
  }
}
