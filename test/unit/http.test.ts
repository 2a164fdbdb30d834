/**
 * The JSON GET that hostnic sends to Docker's and Podman's sockets. The real
 * daemons are exercised in test/e2e/runtimes.test.ts and docker.test.ts; here
 * the HTTP answers they may give (identity and chunked bodies, errors, a
 * daemon that hangs up or never answers) come from a local unix socket.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, parseHttpAnswer, RuntimeUnavailable } from '../../src/runtime/common.js';

const answer = (text: string) => Buffer.from(text.replaceAll('\n', '\r\n').replace(/\r\n\r\n(.*)$/s, (_m, body: string) => `\r\n\r\n${body.replaceAll('\r\n', '\n')}`));

describe('parseHttpAnswer', () => {
  it('reads status and a JSON body', () => {
    expect(parseHttpAnswer(answer('HTTP/1.0 200 OK\nContent-Type: application/json\n\n{"Id":"abc","State":{"Pid":7}}'))).toEqual({ status: 200, body: { Id: 'abc', State: { Pid: 7 } } });
  });
  it('decodes a chunked body', () => {
    const raw = Buffer.from('HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"message\r\n10;x=1\r\n":"no such one"}\r\n0\r\n\r\n');
    expect(parseHttpAnswer(raw)).toEqual({ status: 404, body: { message: 'no such one' } });
  });
  it('keeps a body that is not JSON as text', () => {
    expect(parseHttpAnswer(answer('HTTP/1.1 500 Internal Server Error\n\npage not found'))).toEqual({ status: 500, body: 'page not found' });
  });
  it('refuses what is not a whole HTTP answer', () => {
    expect(() => parseHttpAnswer(Buffer.from(''))).toThrow(/incomplete/);
    expect(() => parseHttpAnswer(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n'))).toThrow(/not an HTTP answer/);
    expect(() => parseHttpAnswer(Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n{}'))).toThrow(/truncated/);
  });
});

describe('getJson on a unix socket', () => {
  let server: Server | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function serve(onRequest: (request: string, reply: (text: string) => void, hangUp: () => void) => void): Promise<string> {
    dir = mkdtempSync(join(tmpdir(), 'hostnic-http-'));
    const path = join(dir, 'daemon.sock');
    server = createServer((sock) => {
      let got = '';
      sock.on('data', (d) => {
        got += d.toString();
        if (got.includes('\r\n\r\n')) onRequest(got, (text) => sock.end(text), () => sock.destroy());
      });
    });
    await new Promise<void>((r) => server!.listen(path, () => r()));
    return path;
  }

  it('sends one HTTP/1.0 GET for the path and returns the parsed answer', async () => {
    let seen = '';
    const path = await serve((req, reply) => { seen = req; reply('HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n[{"Id":"x"}]'); });
    expect(await getJson('docker', path, '/containers/web/json')).toEqual({ status: 200, body: [{ Id: 'x' }] });
    expect(seen.split('\r\n')[0]).toBe('GET /containers/web/json HTTP/1.0');
    expect(seen).toMatch(/\r\nHost: localhost\r\n/);
  });

  it('a daemon that hangs up without an answer, or a socket nobody listens on: RuntimeUnavailable naming the socket', async () => {
    const path = await serve((_req, _reply, hangUp) => hangUp());
    await expect(getJson('docker', path, '/x')).rejects.toThrow(RuntimeUnavailable);
    await expect(getJson('docker', path, '/x')).rejects.toThrow(new RegExp(path));
    await expect(getJson('podman', join(dir!, 'nothing.sock'), '/x')).rejects.toThrow(/cannot talk to .*nothing\.sock: ENOENT/);
  });

  it('a daemon that never answers: RuntimeUnavailable after the timeout', async () => {
    const path = await serve(() => undefined);
    await expect(getJson('docker', path, '/x')).rejects.toThrow(/no answer on .* within 2 s/);
  });
});
