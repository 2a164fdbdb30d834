// The "before" contenders of `npm run bench -- --before REV`: the code of a
// git revision, built once with its own scripts/bundle.mjs and run beside the
// current build in the same rounds.
//
// The revision's tree comes out of `git archive` (the repository is only
// read: no worktree is registered, no ref moves) into a directory of the
// lab's, where it is built and run; builds that made a V8 code cache (before
// issue 11) made it for that very path, as an install would. Its
// node_modules is the repository's when the revision's package-lock.json is
// the same as the working tree's, else its own `npm ci`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, realpathSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

function must(argv, opts = {}) {
  const r = spawnSync(argv[0], argv.slice(1), { maxBuffer: 512 * 1024 * 1024, ...opts });
  if (r.status !== 0) {
    throw new Error(`${argv.join(' ')} failed (exit ${r.status ?? r.signal}): ${String(r.stderr ?? '').trim().split('\n').slice(-10).join('\n')}`);
  }
  return r;
}

const text = (r) => r.stdout.toString().trim();

/** The environment of a plain build and run: no node flags, no hostnic test or debug switches. */
export function plainEnv(extra = {}) {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (k === 'NODE_OPTIONS' || k === 'NODE_COMPILE_CACHE' || k.startsWith('HOSTNIC_')) delete env[k];
  return { ...env, ...extra };
}

/**
 * Build `rev` of the repository at `repo` in `parent`/rev-SHORT and check
 * that it runs. Returns { rev, sha, short, cli }: cli is its bin/hostnic.
 */
export function buildRevision(repo, rev, parent, log = () => {}) {
  const sha = text(must(['git', '-C', repo, 'rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`]));
  const short = text(must(['git', '-C', repo, 'rev-parse', '--short', sha]));
  const dir = join(parent, `rev-${short}`);
  mkdirSync(dir);
  log(`bench: building ${rev} (${short}) in ${dir}`);
  const tar = must(['git', '-C', repo, 'archive', '--format=tar', sha]);
  must(['tar', '-x', '-C', dir], { input: tar.stdout });
  const lockThen = readFileSync(join(dir, 'package-lock.json'), 'utf8');
  const lockNow = readFileSync(join(repo, 'package-lock.json'), 'utf8');
  if (lockThen === lockNow) symlinkSync(realpathSync(join(repo, 'node_modules')), join(dir, 'node_modules'));
  else {
    log(`bench: ${short} has other dependencies: npm ci`);
    must(['npm', 'ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: dir, env: plainEnv() });
  }
  // The bundle only: the type check is not part of what runs.
  must([process.execPath, join(dir, 'scripts', 'bundle.mjs')], { cwd: dir, env: plainEnv() });
  const cli = join(dir, 'bin', 'hostnic');
  checkRuns(cli, `${rev} (${short})`);
  return { rev, sha, short, cli };
}

/**
 * `hostnic --version` of a build runs, and a second run prints nothing on
 * stderr with HOSTNIC_DEBUG=1 (a build with the old V8 code cache says there
 * when it had none: every measured run then has it).
 */
export function checkRuns(cli, what) {
  for (const pass of ['first', 'second']) {
    const r = spawnSync(process.execPath, [cli, '--version'], { env: plainEnv({ HOSTNIC_DEBUG: '1' }), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${what}: hostnic --version failed (exit ${r.status ?? r.signal}): ${r.stderr.trim()}`);
    if (pass === 'second' && r.stderr !== '') throw new Error(`${what}: hostnic --version is not quiet on its second run: ${r.stderr.trim()}`);
  }
}
