/**
 * Start-up: bin/hostnic requires dist/hostnic.js, the one-file bundle, and
 * runs it; where Node has module.enableCompileCache (>= 22.1) it enables
 * Node's own compile cache, for root only, in /var/cache/hostnic (see
 * bin/hostnic). These tests check that the bundle runs as built, with no
 * cache of any kind; that a run writes nothing into bin/ or dist/; and, with
 * a stand-in for module.enableCompileCache preloaded (this machine's Node 20
 * has none), who enables the cache and where.
 *
 * Needs the bundle (`npm run build`), like every e2e suite.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const CACHE_DIR = '/var/cache/hostnic';
const work = mkdtempSync(join(tmpdir(), 'hostnic-startup-'));
// Readable by the other user some cases run as.
chmodSync(work, 0o755);
const cacheDirBefore = existsSync(CACHE_DIR);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  // The stand-in cases make the directory as a real run on Node >= 22 would: leave the machine as found.
  if (!cacheDirBefore) rmSync(CACHE_DIR, { recursive: true, force: true });
});

let copies = 0;
/** A copy of the built bin/ and dist/, readable by anyone. */
function install(): { dir: string; bin: string } {
  const dir = join(work, String(++copies));
  for (const d of ['bin', 'dist']) cpSync(join(REPO, d), join(dir, d), { recursive: true });
  return { dir, bin: join(dir, 'bin', 'hostnic') };
}

/** Every file and directory under dir with its size, mode and mtime: what a write would change. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const s = statSync(p);
      out.push(`${relative(dir, p)} ${s.size} ${s.mode.toString(8)} ${s.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/** A module.enableCompileCache that says on stderr how it was called (Node 20 has none). */
const STAND_IN = join(work, 'enable-compile-cache.cjs');
writeFileSync(STAND_IN, `require('node:module').enableCompileCache = (dir) => {
  process.stderr.write('enableCompileCache ' + JSON.stringify(dir) + ' as uid ' + process.geteuid() + '\\n');
  return { status: 0 };
};\n`);

/** An fs.mkdirSync that says on stderr what it was asked to make, and makes nothing. */
const MKDIR_SPY = join(work, 'mkdir-spy.cjs');
writeFileSync(MKDIR_SPY, `require('node:fs').mkdirSync = (dir) => { process.stderr.write('mkdir ' + dir + '\\n'); };\n`);

/** A vm.Script that says on stderr, at exit, whether it was given a code cache and whether V8 took it. */
const SCRIPT_SPY = join(work, 'script-spy.cjs');
writeFileSync(SCRIPT_SPY, `const vm = require('node:vm');
const Script = vm.Script;
vm.Script = class extends Script {
  constructor(source, options) {
    super(source, options);
    process.once('exit', () => process.stderr.write('script cache=' + !!(options && options.cachedData) + ' rejected=' + this.cachedDataRejected + '\\n'));
  }
};\n`);

const AS_NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'];

function run(bin: string, args: string[], { nodeArgs = [] as string[], env = {} as NodeJS.ProcessEnv, as = [] as string[] } = {}) {
  const base = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'NODE_COMPILE_CACHE', 'HOSTNIC_DEBUG']) delete base[k];
  const argv = [...as, process.execPath, ...nodeArgs, bin, ...args];
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', cwd: '/', env: { ...base, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('start-up', () => {
  it('the build is the bundle and its package.json (and on Node 20 its code cache), nothing else; it runs as built', () => {
    const node20 = !(process.versions.node.split('.').map(Number)[0]! >= 22);
    expect(readdirSync(join(REPO, 'dist')).sort()).toEqual(node20 ? ['hostnic.js', 'hostnic.js.cache', 'package.json'] : ['hostnic.js', 'package.json']);
    const { bin } = install();
    expect(run(bin, ['--version'])).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    expect(run(bin, ['attach', '--help']).stdout).toContain('hostnic attach nginx eth1 192.168.1.4/24@192.168.1.1');
  });

  it('no dependency is patched: yargs renders the help of a command before running it, as published', () => {
    // The build used to cut yargs' cacheHelpMessage() out of its command runner,
    // and its version guess (yargs.version() after yargs.help()) out of yargs().
    const bundle = readFileSync(join(REPO, 'dist', 'hostnic.js'), 'utf8');
    expect(bundle).toMatch(/getUsageInstance\(\)\.cacheHelpMessage\(\)/);
    expect(bundle).toMatch(/yargs\.help\(\)[,;]\s*yargs\.version\(\)/);
    // main.ts's .version() wins over the guess wherever it runs.
    const pkg = join(work, 'other-package');
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'other', version: '9.9.9' }));
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'hostnic'), '--version'], { encoding: 'utf8', cwd: pkg });
    expect(r.stdout).toBe(`${VERSION}\n`);
  });

  it('a run writes nothing into bin/ or dist/: as root, as another user, on success and on error', () => {
    const { dir, bin } = install();
    const before = tree(dir);
    const stateDir = mkdtempSync(join(work, 'state-'));
    expect(run(bin, ['--version']).status).toBe(0);
    expect(run(bin, ['--help']).status).toBe(0);
    expect(run(bin, ['no-such-command']).status).toBe(2);
    const status = run(bin, ['status', '--json'], { env: { HOSTNIC_STATE_DIR: stateDir } });
    expect(status.status).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual(expect.anything());
    expect(run(bin, ['__complete', 'nics'], { as: AS_NOBODY }).status).toBe(0);
    expect(run(bin, ['--version'], { as: AS_NOBODY })).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    // And where Node has a compile cache: still nothing here.
    expect(run(bin, ['--version'], { nodeArgs: ['--require', STAND_IN] }).status).toBe(0);
    expect(tree(dir)).toEqual(before);
  });

  it('on a Node without module.enableCompileCache (this one: Node 20) a run makes no directory', () => {
    const r = run(join(REPO, 'bin', 'hostnic'), ['--version'], { nodeArgs: ['--require', MKDIR_SPY] });
    expect(r).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    // The spy sees the directory a Node with a compile cache would make.
    const withCache = run(join(REPO, 'bin', 'hostnic'), ['--version'], { nodeArgs: ['--require', MKDIR_SPY, '--require', STAND_IN] });
    expect(withCache.stderr).toBe(`mkdir ${CACHE_DIR}\nenableCompileCache "${CACHE_DIR}" as uid 0\n`);
  });

  it('where Node has module.enableCompileCache, a run as root enables it in /var/cache/hostnic, a directory only root can enter', () => {
    const { bin } = install();
    const r = run(bin, ['--version'], { nodeArgs: ['--require', STAND_IN] });
    expect(r).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: `enableCompileCache "${CACHE_DIR}" as uid 0\n` });
    const s = statSync(CACHE_DIR);
    expect(s.uid).toBe(0);
    // 0700 when hostnic made it; one made before (by root: /var/cache is root's) is not group- or world-writable.
    if (!cacheDirBefore) expect(s.mode & 0o777).toBe(0o700);
    expect(s.mode & 0o022).toBe(0);
  });

  it('another user (a shell completing `hostnic __complete`) never enables it: Node\'s default directory is in the shared /tmp', () => {
    const r = run(join(REPO, 'bin', 'hostnic'), ['--version'], { nodeArgs: ['--require', STAND_IN], as: AS_NOBODY });
    expect(r).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
  });

  it('Node 20: the build\'s code cache is used where it was made for, and nowhere else', () => {
    if ((nodeModule as { enableCompileCache?: unknown }).enableCompileCache) return; // a Node with its own cache: the cases above
    const cache = readFileSync(join(REPO, 'dist', 'hostnic.js.cache'));
    const bundle = readFileSync(join(REPO, 'dist', 'hostnic.js'), 'utf8');
    // Its header: the bundle's first line (the build) and the bundle's path.
    expect(cache.subarray(0, 200).toString('latin1').split('\n').slice(0, 2)).toEqual([bundle.split('\n')[0], join(REPO, 'dist', 'hostnic.js')]);
    expect(bundle.split('\n')[0]).toMatch(/^"use strict";\/\* hostnic \S+ build [0-9a-f]{16} \*\/$/);
    const here = run(join(REPO, 'bin', 'hostnic'), ['--version'], { nodeArgs: ['--require', SCRIPT_SPY] });
    expect(here).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: 'script cache=true rejected=false\n' });
    // A copy elsewhere (the cache names another path): a plain require, nothing written.
    const { dir, bin } = install();
    const before = tree(dir);
    expect(run(bin, ['--version'], { nodeArgs: ['--require', SCRIPT_SPY] })).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    // A cache of another build at the right path: not used either.
    const other = install();
    const file = join(other.dir, 'dist', 'hostnic.js');
    const head = `${bundle.split('\n')[0]}\n${join(REPO, 'dist', 'hostnic.js')}\n`;
    writeFileSync(`${file}.cache`, Buffer.concat([Buffer.from(`"use strict";/* hostnic 0.0.0 build 0000000000000000 */\n${file}\n`), cache.subarray(head.length)]));
    expect(run(other.bin, ['--version'], { nodeArgs: ['--require', SCRIPT_SPY] })).toEqual({ status: 0, stdout: `${VERSION}\n`, stderr: '' });
    // The same cache with this build's header at this path is used: the header is all that decided.
    writeFileSync(`${file}.cache`, Buffer.concat([Buffer.from(`${bundle.split('\n')[0]}\n${file}\n`), cache.subarray(head.length)]));
    expect(run(other.bin, ['--version'], { nodeArgs: ['--require', SCRIPT_SPY] }).stderr).toBe('script cache=true rejected=false\n');
    expect(tree(dir)).toEqual(before);
  });
});
