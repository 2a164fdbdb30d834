// Loaded with `node --require` into one hostnic run by `npm run bench -- --profile`
// (never in the measured runs). It records, without touching hostnic's code:
//  - when Node reached this file (the end of Node's own start-up),
//  - every child process (argv, spawn and exit times): execa and flock both go
//    through child_process.spawn,
//  - every connection to a unix socket (the Docker / Podman API: hostnic sends
//    one GET per connection with node:http, which connects through node:net),
//  - fsyncSync calls (the journal writes), each with its start and end,
//  - timers of 20 ms or more that fired (a fixed sleep would show up here),
// and writes it all as JSON to $HOSTNIC_BENCH_TRACE when the process exits.
'use strict';
const childProcess = require('node:child_process');
const fs = require('node:fs');

const out = process.env.HOSTNIC_BENCH_TRACE;
const now = () => performance.timeOrigin + performance.now();
const trace = {
  pid: process.pid,
  timeOrigin: performance.timeOrigin,
  preloadAt: now(),
  spawns: [],
  http: [],
  fsync: { count: 0, ms: 0, at: [] },
  writes: { count: 0, ms: 0 },
  timers: [],
  exitAt: 0,
};

const spawn = childProcess.spawn;
childProcess.spawn = function tracedSpawn(file, args, ...rest) {
  const entry = { argv: [file, ...(Array.isArray(args) ? args : [])], start: now(), end: 0, code: null };
  trace.spawns.push(entry);
  const child = spawn.call(this, file, args, ...rest);
  child.once('exit', (code) => { entry.end = now(); entry.code = code; });
  child.once('error', () => { if (!entry.end) entry.end = now(); });
  return child;
};

// hostnic talks to the Docker / Podman socket with node:http, one GET per
// connection (agent: false; getJson in src/runtime/http.ts). Its agent
// connects through net.createConnection, patched here before node:http is
// first loaded: a unix-socket connection counts as one API call, from connect
// to close.
const net = require('node:net');
const createConnection = net.createConnection;
net.createConnection = function tracedConnection(...args) {
  const sock = createConnection.apply(this, args);
  const path = typeof args[0] === 'string' ? args[0] : args[0]?.path;
  if (typeof path !== 'string') return sock;
  const entry = { socketPath: path, path: null, start: now(), end: 0, status: null };
  trace.http.push(entry);
  const write = sock.write;
  sock.write = function tracedWrite(chunk, ...rest) {
    const line = /^GET (\S+) HTTP/.exec(String(chunk));
    if (line && entry.path === null) entry.path = line[1];
    return write.call(this, chunk, ...rest);
  };
  sock.on('data', (d) => { if (entry.status === null) entry.status = Number(/^HTTP\/1\.\d (\d{3})/.exec(String(d))?.[1] ?? 0); });
  sock.once('close', () => { entry.end = now(); });
  return sock;
};

const fsyncSync = fs.fsyncSync;
fs.fsyncSync = function tracedFsync(...args) {
  const t = now();
  try { return fsyncSync.apply(this, args); } finally { trace.fsync.count++; trace.fsync.ms += now() - t; trace.fsync.at.push([t, now()]); }
};
const writeSync = fs.writeSync;
fs.writeSync = function tracedWrite(...args) {
  const t = now();
  try { return writeSync.apply(this, args); } finally { trace.writes.count++; trace.writes.ms += now() - t; }
};

const setTimeoutOrig = globalThis.setTimeout;
globalThis.setTimeout = function tracedSetTimeout(fn, ms, ...rest) {
  if (typeof fn !== 'function' || !(Number(ms) >= 20)) return setTimeoutOrig(fn, ms, ...rest);
  const at = now();
  return setTimeoutOrig((...a) => { trace.timers.push({ ms: Number(ms), setAt: at, firedAt: now() }); return fn(...a); }, ms, ...rest);
};

const timersPromises = require('node:timers/promises');
const delayOrig = timersPromises.setTimeout;
timersPromises.setTimeout = function tracedDelay(ms, ...rest) {
  const p = delayOrig.call(this, ms, ...rest);
  if (!(Number(ms) >= 20)) return p;
  const at = now();
  return p.then((v) => { trace.timers.push({ ms: Number(ms), setAt: at, firedAt: now(), promise: true }); return v; });
};

// No syncBuiltinESMExports(): hostnic is one CommonJS bundle (run by bin/hostnic
// through vm.Script) that reads these functions off the module objects patched
// above; no ES module imports them.

process.once('exit', () => {
  trace.exitAt = now();
  if (out) {
    try { fs.writeFileSync(out, JSON.stringify(trace)); } catch { /* the bench reports the missing file */ }
  }
});
