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
// `node scripts/bundle.mjs --readable DIR` writes DIR/dist, unminified and
// with esbuild's "// node_modules/PKG/..." and "// src/..." section comments,
// and a copy of bin/ as DIR/bin: what `npm run bench -- --profile` runs, to
// charge CPU time to packages and source files.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const readable = process.argv[2] === '--readable' ? process.argv[3] : undefined;
if (process.argv.length > 2 && !readable) throw new Error('usage: node scripts/bundle.mjs [--readable DIR]');
const home = readable ?? root;
const dist = `${home}/dist`;
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
  banner: { js: `"use strict";\nvar __hostnicImportMetaUrl = require('node:url').pathToFileURL(__filename).href;` },
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
// Builds before issue 11 left a V8 code cache here.
rmSync(`${dist}/hostnic.js.cache`, { force: true });

// The entry point runs the new bundle.
const env = { ...process.env };
delete env.NODE_OPTIONS;
const check = spawnSync(process.execPath, [`${home}/bin/hostnic`, '--version'], { env, encoding: 'utf8' });
if (check.status !== 0 || check.stdout !== `${version}\n`) {
  throw new Error(`bundle: bin/hostnic --version failed (exit ${check.status ?? check.signal}): ${check.stderr}${check.stdout}`);
}
