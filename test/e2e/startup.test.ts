/**
 * bin/hostnic runs dist/hostnic.js with V8's code cache dist/hostnic.js.cache
 * (made by scripts/bundle.mjs). These tests check that the build's cache is
 * used, and what a run does with a cache it cannot use: compile from source,
 * and refresh the cache only where it may (see bin/hostnic).
 *
 * Each case runs on a copy of bin/ and dist/ in a temp dir. HOSTNIC_DEBUG=1
 * makes bin/hostnic say on stderr when it did not use the cache.
 *
 * Needs the bundle (`npm run build`), like every e2e suite.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'hostnic-startup-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let copies = 0;
/** The cache's second line: the path of the bundle it was made for. */
function madeFor(cache: string): string {
  return readFileSync(cache, 'utf8').split('\n')[1]!;
}

/** A copy of the built bin/ and dist/, its cache made for the copy's path (as a build there would); `asBuilt`: left as the build made it. */
function install({ asBuilt = false } = {}): { bin: string; cache: string; bundle: string } {
  const dir = join(work, String(++copies));
  for (const d of ['bin', 'dist']) cpSync(join(REPO, d), join(dir, d), { recursive: true });
  const cache = join(dir, 'dist', 'hostnic.js.cache');
  const bundle = join(dir, 'dist', 'hostnic.js');
  if (!asBuilt) {
    const data = readFileSync(cache);
    const from = `\n${madeFor(cache)}\n`;
    const at = data.indexOf(from);
    writeFileSync(cache, Buffer.concat([data.subarray(0, at), Buffer.from(`\n${bundle}\n`), data.subarray(at + from.length)]));
  }
  return { bin: join(dir, 'bin', 'hostnic'), cache, bundle };
}

function run(bin: string, { nodeArgs = [] as string[], env = {} as NodeJS.ProcessEnv } = {}) {
  const base = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'HOSTNIC_CODE_CACHE']) delete base[k];
  const r = spawnSync(process.execPath, [...nodeArgs, bin, '--version'], { encoding: 'utf8', env: { ...base, HOSTNIC_DEBUG: '1', ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A cache V8 rejects: the build's, with its V8 version hash (bytes 4-7 of V8's header) changed, as another Node would have made it. */
function otherNode(cache: string): void {
  const data = readFileSync(cache);
  const v8 = data.indexOf('\n', data.indexOf('\n') + 1) + 1;
  data[v8 + 4] = data[v8 + 4]! ^ 0xff;
  writeFileSync(cache, data);
}

const isRoot = process.getuid?.() === 0;

describe('V8 code cache of the bundle', () => {
  it('the build made one and a run uses it', () => {
    const r = run(join(REPO, 'bin', 'hostnic'));
    expect(r).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('a cache V8 rejects: the run compiles from source and writes a new cache, which the next run uses', () => {
    const { bin, cache } = install();
    otherNode(cache);
    const first = run(bin);
    expect(first.status).toBe(0);
    expect(first.stdout).toBe(`${VERSION}\n`);
    expect(first.stderr).toMatch(/hostnic\.js\.cache rejected by V8/);
    expect(run(bin)).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('a cache of another build is not used, even one V8 would take', () => {
    const { bin, cache, bundle } = install();
    // Another build of the same length: the same code under another build id.
    const source = readFileSync(bundle, 'utf8');
    const other = source.replace(/^(\/\/ hostnic \S+ build )(\w)/, (_, head: string, c: string) => head + (c === '0' ? '1' : '0'));
    expect(other.length).toBe(source.length);
    expect(other).not.toBe(source);
    writeFileSync(bundle, other);
    expect(run(bin).stderr).toMatch(/hostnic\.js\.cache missing, or made for another build or path/);
    // Refreshed for this build.
    expect(readFileSync(cache).subarray(0, other.indexOf('\n') + 1).toString()).toBe(other.slice(0, other.indexOf('\n') + 1));
    expect(run(bin).stderr).toBe('');
  });

  it('the build made it for the path of dist/: V8 names the compiled code as it was named when the cache was made', () => {
    expect(madeFor(join(REPO, 'dist', 'hostnic.js.cache'))).toBe(join(REPO, 'dist', 'hostnic.js'));
  });

  it('a cache made for another path (the package installed elsewhere) is remade for this one, so stack traces name this bundle', () => {
    const { bin, cache, bundle } = install({ asBuilt: true });
    expect(madeFor(cache)).not.toBe(bundle);
    expect(run(bin).stderr).toMatch(/missing, or made for another build or path/);
    expect(madeFor(cache)).toBe(bundle);
    expect(run(bin).stderr).toBe('');
  });

  it('no cache: the run works and makes one', () => {
    const { bin, cache } = install();
    rmSync(cache);
    const first = run(bin);
    expect(first.stdout).toBe(`${VERSION}\n`);
    expect(first.stderr).toMatch(/missing, or made for another build or path/);
    expect(statSync(cache).size).toBeGreaterThan(0);
    expect(run(bin).stderr).toBe('');
  });

  it('is not refreshed by a node with flags or NODE_OPTIONS (its cache may not fit a plain run)', () => {
    const { bin, cache } = install();
    otherNode(cache);
    const before = readFileSync(cache);
    expect(run(bin, { nodeArgs: ['--stack-size=2000'] }).stdout).toBe(`${VERSION}\n`);
    expect(run(bin, { env: { NODE_OPTIONS: '--no-warnings' } }).stdout).toBe(`${VERSION}\n`);
    expect(readFileSync(cache).equals(before)).toBe(true);
  });

  it.skipIf(!isRoot)('is not refreshed in a dist/ another user owns, and leaves no file there', () => {
    const { bin, cache } = install();
    otherNode(cache);
    const before = readFileSync(cache);
    chownSync(dirname(cache), 65534, 65534);
    expect(run(bin).stdout).toBe(`${VERSION}\n`);
    expect(readFileSync(cache).equals(before)).toBe(true);
    expect(spawnSync('ls', [dirname(cache)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).sort()).toEqual(['hostnic.js', 'hostnic.js.cache', 'package.json']);
  });
});
