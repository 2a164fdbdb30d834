// Bundle the CLI into dist/ so start-up does not walk hundreds of modules.
// Code splitting keeps each command's modules in a chunk loaded on use.
// Everything is bundled: the installed package has no runtime dependencies.
import { build } from 'esbuild';
import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
await build({
  entryPoints: { hostnic: `${root}/src/main.ts` },
  // Built beside dist/ and swapped in, so a hostnic running meanwhile never sees it half-written.
  outdir: `${root}/dist.new-${process.pid}`,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: false,
  sourcemap: false,
  legalComments: 'none',
  // CommonJS dependencies (yargs) need require() inside an ESM bundle.
  banner: { js: "import { createRequire as __hostnicRequire } from 'node:module'; const require = __hostnicRequire(import.meta.url);" },
  define: { __HOSTNIC_VERSION__: JSON.stringify(version) },
  logLevel: 'warning',
});

const fresh = `${root}/dist.new-${process.pid}`;
const old = `${root}/dist.old-${process.pid}`;
if (existsSync(`${root}/dist`)) renameSync(`${root}/dist`, old);
renameSync(fresh, `${root}/dist`);
rmSync(old, { recursive: true, force: true });
