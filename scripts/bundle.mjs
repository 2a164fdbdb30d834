// Bundle the CLI into one CommonJS file, dist/hostnic.js, so start-up does
// not walk hundreds of modules, and make V8's code cache of it,
// dist/hostnic.js.cache, which bin/hostnic loads with it. Everything is
// bundled: the installed package has no runtime dependencies.
//
// One CommonJS file rather than ESM chunks: Node 20's ESM loader costs about
// 1 ms per module (resolve, link, its own bookkeeping), and the ESM entry alone
// costs ~6 ms more than a CommonJS one. esbuild cannot split CommonJS, but
// each module of the bundle is still initialised only when first imported
// (its `import()` becomes a lazy init call), so `hostnic status` does not run
// the attach planner's top-level code.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
// Built beside dist/ and swapped in, so a hostnic running meanwhile never sees
// it half-written. The stage holds a copy of bin/ too: the cache is made by
// running the real entry point on the new dist/.
const stage = `${root}/dist.new-${process.pid}`;
const fresh = `${stage}/dist`;
try {
  const { outputFiles } = await build({
    entryPoints: [`${root}/src/main.ts`],
    outfile: `${fresh}/hostnic.js`,
    write: false,
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
  const code = outputFiles[0].text;
  // bin/hostnic compiles the bundle with vm.Script, which has no loader for
  // import() (Node 20's only one, USE_MAIN_CONTEXT_DEFAULT_LOADER, prints an
  // experimental warning): esbuild turns ours into lazy inits, and none may be left.
  if (/\bimport\(/.test(code)) throw new Error('bundle: dist/hostnic.js would contain an import(), which bin/hostnic cannot run');
  // The first line names the build: bin/hostnic uses a cache only if it starts with the same line.
  const id = createHash('sha256').update(code).digest('hex').slice(0, 16);
  cpSync(`${root}/bin`, `${stage}/bin`, { recursive: true });
  mkdirSync(fresh);
  writeFileSync(`${fresh}/hostnic.js`, `// hostnic ${version} build ${id}\n${code}`);
  // The root package.json says "type": "module"; these files are CommonJS.
  writeFileSync(`${fresh}/package.json`, '{ "type": "commonjs" }\n');
  makeCodeCache();
} catch (e) {
  rmSync(stage, { recursive: true, force: true });
  throw e;
}

const old = `${root}/dist.old-${process.pid}`;
if (existsSync(`${root}/dist`)) renameSync(`${root}/dist`, old);
renameSync(fresh, `${root}/dist`);
rmSync(old, { recursive: true, force: true });
rmSync(stage, { recursive: true, force: true });
checkCodeCache();

/**
 * Run the new build once as bin/hostnic does, with HOSTNIC_CODE_CACHE=build:
 * it imports every command module (running nothing), lets yargs parse
 * `attach --help`, and on exit saves V8's code cache: the compiled code of
 * everything that ran. Then check that a plain run uses it. A plain `node`: V8 rejects a
 * cache made under other flags (NODE_OPTIONS).
 */
function makeCodeCache() {
  const env = { ...process.env };
  for (const k of ['NODE_OPTIONS', 'HOSTNIC_CODE_CACHE', 'HOSTNIC_DEBUG', 'HOSTNIC_SCRIPT_NAME']) delete env[k];
  // Made for the path dist/ will have: V8 keeps the name a cache was made under (see bin/hostnic).
  const made = spawnSync(process.execPath, [`${stage}/bin/hostnic`], {
    env: { ...env, HOSTNIC_CODE_CACHE: 'build', HOSTNIC_SCRIPT_NAME: join(root, 'dist', 'hostnic.js') }, encoding: 'utf8',
  });
  if (made.status !== 0 || !made.stdout.includes('hostnic attach <container> <nic>') || !existsSync(`${fresh}/hostnic.js.cache`)) {
    throw new Error(`bundle: making the code cache failed (exit ${made.status}): ${made.stderr}`);
  }
}

/** After the swap: a plain run of the real entry point uses the cache. */
function checkCodeCache() {
  const env = { ...process.env, HOSTNIC_DEBUG: '1' };
  for (const k of ['NODE_OPTIONS', 'HOSTNIC_CODE_CACHE', 'HOSTNIC_SCRIPT_NAME']) delete env[k];
  const check = spawnSync(process.execPath, [`${root}/bin/hostnic`, '--version'], { env, encoding: 'utf8' });
  if (check.status !== 0 || check.stderr !== '') throw new Error(`bundle: the code cache is not used: ${check.stderr}`);
}

