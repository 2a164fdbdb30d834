// Bundle the CLI into one CommonJS file, dist/hostnic.js, so start-up does
// not walk hundreds of modules. Everything is bundled: the installed package
// has no runtime dependencies. bin/hostnic requires the bundle; dependencies
// go in as published (no patching of their source).
//
// One CommonJS file rather than ESM chunks: Node 20's ESM loader costs about
// 1 ms per module (resolve, link, its own bookkeeping), and the ESM entry alone
// costs ~6 ms more than a CommonJS one. esbuild cannot split CommonJS, but
// each module of the bundle is still initialised only when first imported
// (its `import()` becomes a lazy init call), so `hostnic status` does not run
// the attach planner's top-level code.
//
// On Node 20, which has no compile cache of its own, the build also makes
// dist/hostnic.js.cache for the bundle's final path (bin/node20-cache.cjs);
// a run only reads it.
//
// `node scripts/bundle.mjs --readable DIR` writes DIR/dist, unminified and
// with esbuild's "// node_modules/PKG/..." and "// src/..." section comments,
// and a copy of bin/ as DIR/bin: what `npm run bench -- --profile` runs, to
// charge CPU time to packages and source files.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { cpSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const readable = process.argv[2] === '--readable' ? process.argv[3] : undefined;
if (process.argv.length > 2 && !readable) throw new Error('usage: node scripts/bundle.mjs [--readable DIR]');
const home = readable ?? root;
// The path bin/hostnic computes (the Node 20 code cache is made for it).
const dist = join(realpathSync(home), 'dist');
const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
const { outputFiles } = await build({
  entryPoints: [`${root}/src/main.ts`],
  outfile: `${dist}/hostnic.js`,
  write: false,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  // Whitespace and syntax only: names stay as written, for stack traces
  // (HOSTNIC_DEBUG=1). A smaller bundle is less for V8 to scan on every start
  // and for every function compiled when it first runs: Node 20 has no
  // compile cache (see bin/hostnic); measured with the bench (--before).
  minifyWhitespace: !readable,
  minifySyntax: !readable,
  sourcemap: false,
  legalComments: 'none',
  // import.meta does not exist in CommonJS: import.meta.url becomes the
  // bundle's URL, as it was in the ESM bundle (completion.ts finds
  // ../completions/ by it, yargs its own directory). The bundle is strict code
  // as the ESM was: "use strict" must come first, esbuild's own comes after.
  // The first line names the build: a code cache made for another build is
  // not used (bin/node20-cache.cjs).
  banner: { js: `"use strict";/* hostnic ${version} build ${randomBytes(8).toString('hex')} */\nvar __hostnicImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
  define: { __HOSTNIC_VERSION__: JSON.stringify(version), 'import.meta.url': '__hostnicImportMetaUrl' },
  logLevel: 'warning',
});

mkdirSync(dist, { recursive: true });
if (readable) cpSync(`${root}/bin`, `${home}/bin`, { recursive: true });
// The root package.json says "type": "module"; the bundle is CommonJS. Each
// file is written beside its name and renamed over it: a hostnic starting
// meanwhile loads the old bundle or the new one, never half of one.
for (const [name, text] of [['package.json', '{ "type": "commonjs" }\n'], ['hostnic.js', outputFiles[0].text]]) {
  const tmp = `${dist}/.${name}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, `${dist}/${name}`);
}
rmSync(`${dist}/hostnic.js.cache`, { force: true });
// Node 20: the code cache of this build, made by running it once.
const env = { ...process.env };
delete env.NODE_OPTIONS;
if (!readable && !createRequire(import.meta.url)('node:module').enableCompileCache) {
  const tmp = `${dist}/.hostnic.js.cache.${process.pid}.tmp`;
  const made = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).make(process.argv[2], process.argv[3])',
    `${root}/bin/node20-cache.cjs`, `${dist}/hostnic.js`, tmp], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`bundle: making the Node 20 code cache failed: ${made.stderr}`);
  renameSync(tmp, `${dist}/hostnic.js.cache`);
}

// The entry point runs the new bundle.
const check = spawnSync(process.execPath, [`${home}/bin/hostnic`, '--version'], { env, encoding: 'utf8' });
if (check.status !== 0 || check.stdout !== `${version}\n`) {
  throw new Error(`bundle: bin/hostnic --version failed (exit ${check.status ?? check.signal}): ${check.stderr}${check.stdout}`);
}
