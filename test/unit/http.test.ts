/**
 * The HTTP client for Docker's and Podman's sockets (src/runtime/http.ts),
 * against real node:http servers on unix sockets in a temporary directory: the
 * answers a daemon may give (identity and chunked bodies, errors, hanging up,
 * never answering) and event streams (objects split across chunks, an abort, a
 * daemon that dies mid-stream). The real daemons are exercised in
 * test/e2e/runtimes.test.ts and docker.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, getJson, streamJson } from '../../src/runtime/http.js';
import { RuntimeUnavailable } from '../../src/runtime/common.js';

let servers: (Server | NetServer)[] = [];
let dir: string | undefined;

afterEach(async () => {
  for (const s of servers) {
    if ('closeAllConnections' in s) s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  servers = [];
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function socketPath(name = 'daemon.sock'): string {
  dir ??= mkdtempSync(join(tmpdir(), 'hostnic-http-'));
  return join(dir, name);
}

/** A node:http server on a fresh unix socket; returns the socket's path. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const path = socketPath();
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(path, () => r()));
  return path;
}

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('getJson', () => {
  it('GETs the path with Host: localhost and returns the parsed JSON answer', async () => {
    let seen: IncomingMessage | undefined;
    const path = await serve((req, res) => {
      seen = req;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('[{"Id":"x"}]');
    });
    expect(await getJson('docker', path, '/containers/web/json')).toEqual({ status: 200, body: [{ Id: 'x' }] });
    expect(seen!.method).toBe('GET');
    expect(seen!.url).toBe('/containers/web/json');
    expect(seen!.headers.host).toBe('localhost');
    expect(seen!.headers.accept).toBe('application/json');
  });

  it('reads a chunked body written in pieces, a multi-byte character split between them', async () => {
    const doc = Buffer.from('{"message":"no such container: café"}');
    const cut = doc.indexOf(0xc3) + 1; // between the two bytes of "é"
    const path = await serve(async (_req, res) => {
      res.writeHead(404, { 'Content-Type': 'application/json' }); // no length: chunked
      res.write(doc.subarray(0, 9));
      await sleep(10);
      res.write(doc.subarray(9, cut));
      await sleep(10);
      res.end(doc.subarray(cut));
    });
    const answer = await getJson('podman', path, '/x');
    expect(answer).toEqual({ status: 404, body: { message: 'no such container: café' } });
    expect(errorMessage(answer.body)).toBe('no such container: café');
  });

  it('keeps a body that is not JSON as text', async () => {
    const path = await serve((_req, res) => res.writeHead(500).end('page not found\n'));
    const answer = await getJson('docker', path, '/x');
    expect(answer).toEqual({ status: 500, body: 'page not found\n' });
    expect(errorMessage(answer.body)).toBe('page not found');
  });

  it('a daemon that hangs up without an answer, or a socket nobody listens on: RuntimeUnavailable naming the socket', async () => {
    const path = await serve((req) => req.socket.destroy());
    await expect(getJson('docker', path, '/x')).rejects.toThrow(RuntimeUnavailable);
    await expect(getJson('docker', path, '/x')).rejects.toThrow(new RegExp(`cannot talk to ${path}: ECONNRESET`));
    await expect(getJson('podman', socketPath('nothing.sock'), '/x')).rejects.toThrow(/^podman: cannot talk to .*nothing\.sock: ENOENT$/);
  });

  it('an answer that breaks off in the middle of the body: RuntimeUnavailable', async () => {
    const path = await serve((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.write('{"Id":"ab');
      setTimeout(() => req.socket.destroy(), 20);
    });
    await expect(getJson('docker', path, '/x')).rejects.toThrow(/^docker: .*daemon\.sock: the answer broke off/);
  });

  it('something that is not an HTTP server on the socket: RuntimeUnavailable', async () => {
    const path = socketPath('ssh.sock');
    const server = createNetServer((sock) => { sock.end('SSH-2.0-OpenSSH_9.2\r\n'); sock.on('error', () => undefined); setTimeout(() => sock.destroy(), 50); });
    servers.push(server);
    await new Promise<void>((r) => server.listen(path, () => r()));
    await expect(getJson('docker', path, '/x')).rejects.toThrow(/ssh\.sock: not an HTTP answer \(HPE_/);
  });

  it('a daemon that never answers: RuntimeUnavailable after the timeout', async () => {
    const path = await serve(() => undefined);
    const t = Date.now();
    await expect(getJson('docker', path, '/x')).rejects.toThrow(/^docker: no answer on .*daemon\.sock within 2 s$/);
    expect(Date.now() - t).toBeGreaterThanOrEqual(1900);
  });
});

describe('streamJson', () => {
  it('yields each object of a stream as it comes, however the chunks cut it', async () => {
    let url = '';
    const path = await serve(async (req, res) => {
      url = req.url ?? '';
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (const piece of ['{"Type":"container","Action":"start"}\n{"Type":"con', 'tainer","Action":"die","n":"caf\u00e9', '"}\n', '\n{"Type":"network"}\n{"last":true}']) {
        res.write(piece);
        await sleep(10);
      }
      res.end();
    });
    expect(await collect(streamJson('docker', path, '/events?filters=x'))).toEqual([
      { Type: 'container', Action: 'start' },
      { Type: 'container', Action: 'die', n: 'café' },
      { Type: 'network' },
      { last: true },
    ]);
    expect(url).toBe('/events?filters=x');
  });

  it('a quiet stream does not time out: only the status line has to come within 2 s', async () => {
    const path = await serve(async (_req, res) => {
      res.writeHead(200).flushHeaders();
      await sleep(2300);
      res.end('{"late":1}\n');
    });
    expect(await collect(streamJson('podman', path, '/events'))).toEqual([{ late: 1 }]);
  });

  it('an abort ends the loop quietly and closes the connection', async () => {
    let closed!: Promise<void>;
    const path = await serve((req, res) => {
      closed = new Promise((r) => req.socket.once('close', () => r()));
      res.writeHead(200);
      res.write('{"n":1}\n{"n":2}\n');
      // and then nothing: a daemon with no news
    });
    const ac = new AbortController();
    const got: unknown[] = [];
    for await (const e of streamJson('docker', path, '/events', ac.signal)) {
      got.push(e);
      ac.abort();
    }
    expect(got).toEqual([{ n: 1 }]);
    await closed; // the server saw the connection go
    // Aborted before it starts: nothing is sent.
    expect(await collect(streamJson('docker', path, '/events', AbortSignal.abort()))).toEqual([]);
  });

  it('an abort while waiting for the next object ends the loop', async () => {
    const path = await serve((_req, res) => { res.writeHead(200); res.write('{"n":1}\n'); });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    expect(await collect(streamJson('docker', path, '/events', ac.signal))).toEqual([{ n: 1 }]);
  });

  it('leaving the loop early closes the connection', async () => {
    let closed!: Promise<void>;
    const path = await serve((req, res) => {
      closed = new Promise((r) => req.socket.once('close', () => r()));
      res.writeHead(200);
      res.write('{"n":1}\n{"n":2}\n');
    });
    for await (const e of streamJson('docker', path, '/events')) {
      expect(e).toEqual({ n: 1 });
      break;
    }
    await closed;
  });

  it('a daemon that dies mid-stream: the objects before, then RuntimeUnavailable', async () => {
    const path = await serve(async (req, res) => {
      res.writeHead(200);
      res.write('{"n":1}\n{"n":');
      await sleep(20);
      req.socket.destroy();
    });
    const got: unknown[] = [];
    await expect((async () => { for await (const e of streamJson('podman', path, '/events')) got.push(e); })())
      .rejects.toThrow(/^podman: .*daemon\.sock: the stream of \/events broke off/);
    expect(got).toEqual([{ n: 1 }]);
  });

  it('a refusal, a socket nobody listens on, a line that is not JSON: RuntimeUnavailable', async () => {
    const path = await serve((req, res) => {
      if (req.url === '/events') res.writeHead(200).end('{"n":1}\nnot json\n');
      else res.writeHead(400, { 'Content-Type': 'application/json' }).end('{"message":"invalid filter"}');
    });
    await expect(collect(streamJson('docker', path, '/events?filters=bad'))).rejects.toThrow(/^docker: HTTP 400: invalid filter$/);
    await expect(collect(streamJson('docker', path, '/events'))).rejects.toThrow(/not JSON in the stream of \/events: "not json"/);
    await expect(collect(streamJson('docker', socketPath('nothing.sock'), '/events'))).rejects.toThrow(/cannot talk to .*nothing\.sock: ENOENT/);
  });
});
