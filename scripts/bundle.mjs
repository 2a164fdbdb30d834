// Bundle the CLI into one CommonJS file, dist/hostnic.js, so start-up does
// not walk hundreds of modules. Everything is bundled: the installed package
// has no runtime dependencies.
//
// One CommonJS file rather than ESM chunks: Node 20's ESM loader costs about
// 1 ms per module (resolve, link, its own bookkeeping), and the ESM entry alone
// costs ~6 ms more than a CommonJS one. esbuild cannot split CommonJS, but
// each module of the bundle is still initialised only when first imported
// (its `import()` becomes a lazy init call), so `hostnic status` does not run
// the attach planner's top-level code.
import { build } from 'esbuild';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
// Built beside dist/ and swapped in, so a hostnic running meanwhile never sees it half-written.
const fresh = `${root}/dist.new-${process.pid}`;
await build({
  entryPoints: [`${root}/src/main.ts`],
  outfile: `${fresh}/hostnic.js`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: false,
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
// The root package.json says "type": "module"; these files are CommonJS.
writeFileSync(`${fresh}/package.json`, '{ "type": "commonjs" }\n');

const old = `${root}/dist.old-${process.pid}`;
if (existsSync(`${root}/dist`)) renameSync(`${root}/dist`, old);
renameSync(fresh, `${root}/dist`);
rmSync(old, { recursive: true, force: true });
