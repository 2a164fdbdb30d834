/**
 * Packaging: `npm pack` gives a tarball that, installed globally into a
 * temporary prefix, provides a working `hostnic` with no runtime dependency
 * (the CLI is one bundle; see scripts/bundle.mjs), and writes nothing into
 * its install directory at run time.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers/lab.js';

/** Every path under dir with its size and mtime. */
function listing(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()
    .map((p) => { const s = statSync(join(dir, p)); return `${p} ${s.size} ${s.mtimeMs}`; });
}

const work = mkdtempSync(join(tmpdir(), 'hostnic-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm package', () => {
  it('installs globally from the packed tarball and runs with no node_modules', async () => {
    // --ignore-scripts: dist/ is already built by `npm test`; prepack would rebuild it.
    const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO });
    const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(['bin/hostnic', 'dist/hostnic.js', 'completions/hostnic.bash', 'schema/attachments.schema.json', 'README.md', 'package.json']));
    expect(files.some((f) => f.startsWith('src/') || f.startsWith('test/'))).toBe(false);
    // The bundle and its package.json: no code cache or other build by-product.
    expect(files.filter((f) => f.startsWith('dist/')).sort()).toEqual(['dist/hostnic.js', 'dist/package.json']);

    const prefix = join(work, 'prefix');
    await execa('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', '--offline', join(work, info!.filename)]);
    const pkgDir = join(prefix, 'lib', 'node_modules', 'hostnic');
    const deps = existsSync(join(pkgDir, 'node_modules')) ? readdirSync(join(pkgDir, 'node_modules')) : [];
    expect(deps).toEqual([]);

    const bin = join(prefix, 'bin', 'hostnic');
    const installed = listing(pkgDir);
    const version = await execa(bin, ['--version'], { cwd: '/' });
    expect(version.stdout).toBe(JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).version);
    const help = await execa(bin, ['attach', '--help'], { cwd: '/' });
    expect(help.stdout).toContain('hostnic attach nginx eth1 192.168.1.4/24@192.168.1.1');
    const completion = await execa(bin, ['completion', 'bash'], { cwd: '/', reject: false });
    expect(completion.stdout).toBe(readFileSync(join(REPO, 'completions', 'hostnic.bash'), 'utf8').trimEnd());
    // Running it (as root) wrote nothing into the installed package.
    expect(listing(pkgDir)).toEqual(installed);
  }, 120_000);
});
