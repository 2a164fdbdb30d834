/**
 * Shell completions (completions/*, `hostnic completion`, `hostnic __complete`).
 *
 * The completion functions are driven for real: bash through COMP_LINE/
 * COMP_WORDS and the function, fish through `complete -C`, zsh through its
 * line editor in a pseudo-terminal (zsh/zpty), with a TAB typed after the
 * line and compadd wrapped to write the matches to a file. The dynamic values
 * come from this checkout's bin/hostnic, found on PATH as `hostnic`; NIC names
 * are checked inside a throwaway namespace holding a uniquely named veth pair,
 * so the machine's own eth0 must not be offered.
 *
 * Needs the bundle (`npm run build`), like every e2e suite.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA } from '../../src/state.js';
import { ensureDocker, removeContainer, runContainer, uniqueName, type RunningContainer } from '../helpers/docker.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = join(REPO, 'bin', 'hostnic');
const FILES = { bash: join(REPO, 'completions', 'hostnic.bash'), zsh: join(REPO, 'completions', '_hostnic'), fish: join(REPO, 'completions', 'hostnic.fish') };

const isRoot = process.getuid?.() === 0;
const ciSet = !!process.env.CI && process.env.CI !== '0' && process.env.CI.toLowerCase() !== 'false';
/** Root-only: skipped when not root, except in CI where it runs and fails (never skipped silently). */
const rootOnly = describe.skipIf(!isRoot && !ciSet);
function needRoot(): void {
  if (!isRoot) throw new Error('these completion tests need root (they create a network namespace); CI is set, so they may not be skipped');
}

interface Result { status: number; stdout: string; stderr: string }

function sh(argv: string[], env: NodeJS.ProcessEnv = process.env, timeout = 30_000): Result {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', env, timeout, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status ?? (r.signal ? 128 : 127), stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
const uniq = (a: string[]): string[] => [...new Set(a)].sort();

// A directory whose `hostnic` is this checkout's bin, for the completions to call.
const work = mkdtempSync(join(tmpdir(), 'hostnic-completion-'));
const binDir = join(work, 'bin');
mkdirSync(binDir);
symlinkSync(CLI, join(binDir, 'hostnic'));
const ENV: NodeJS.ProcessEnv = { ...process.env, PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}` };
delete ENV.HOSTNIC_STATE_DIR;

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Wrap argv to run in a network namespace (a path), or as is. */
const inNs = (ns: string | undefined, argv: string[]): string[] => (ns ? ['nsenter', `--net=${ns}`, '--', ...argv] : argv);

// ---------------------------------------------------------------- drivers

const BASH_DRIVER = `
source "$1" || exit 90
COMP_LINE=$2
COMP_POINT=\${#COMP_LINE}
read -r -a COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((\${#COMP_WORDS[@]} - 1))
COMPREPLY=()
_hostnic hostnic "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\\n' "\${COMPREPLY[@]}"
`;

/** What bash offers for the line (the cursor at its end). */
function bashComplete(line: string, ns?: string): string[] {
  const r = sh(inNs(ns, ['bash', '--norc', '--noprofile', '-c', BASH_DRIVER, 'bash', FILES.bash, line]), ENV);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return uniq(lines(r.stdout));
}

/** What fish offers for the line (candidates without their descriptions). */
function fishComplete(line: string, ns?: string): string[] {
  const r = sh(inNs(ns, ['fish', '--no-config', '-c', 'source $argv[1]; and complete -C $argv[2]', FILES.fish, line]), ENV);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return uniq(lines(r.stdout).map((l) => l.split('\t')[0]!));
}

/**
 * zsh in a pseudo-terminal with the completions in $fpath and compinit run;
 * compadd is wrapped to append what it adds to OUT; the line is typed with a
 * TAB. Matches are collected until none came for a moment.
 */
const ZSH_DRIVER = `
zmodload zsh/zpty || exit 91
local dir=$1 line=$2 out=$3 ready=$3.ready
: >| $out; : >| $ready
zpty z zsh -f -i || exit 92
zpty -w z "PS1='%% '; unsetopt beep; fpath=(\${(q)dir} \\$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "compadd() { local -a __h; builtin compadd -O __h \\"\\$@\\"; print -rl -- \\$__h >> \${(q)out}; builtin compadd \\"\\$@\\"; }"
zpty -w z "zstyle ':completion:*' menu no; print -r -- ready >> \${(q)ready}"
local i size last=-1 stable=0
for i in {1..200}; do [[ -s $ready ]] && break; sleep 0.05; done
[[ -s $ready ]] || { zpty -d z; exit 93; }
zpty -w -n z "$line"$'\\t'
for i in {1..200}; do
  size=$(wc -c < $out)
  if (( size > 0 && size == last )); then (( ++stable >= 6 )) && break; else stable=0; fi
  last=$size
  sleep 0.05
done
zpty -d z
cat $out
`;

function zshComplete(line: string, ns?: string): string[] {
  const driver = join(work, 'zsh-driver.zsh');
  writeFileSync(driver, ZSH_DRIVER);
  const out = join(work, `zsh-out-${randomBytes(3).toString('hex')}`);
  const r = sh(inNs(ns, ['zsh', '-f', driver, join(REPO, 'completions'), line, out]), ENV);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return uniq(lines(r.stdout));
}

// ---------------------------------------------------------------- tests

describe('completion scripts load', () => {
  it('bash: sourcing registers _hostnic for hostnic', () => {
    const r = sh(['bash', '--norc', '--noprofile', '-c', 'source "$1" && complete -p hostnic', 'bash', FILES.bash]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('-F _hostnic hostnic');
  });

  it('zsh: sourced after compinit, and autoloaded from $fpath', () => {
    const sourced = sh(['zsh', '-f', '-c', 'autoload -Uz compinit && compinit -u -D && source "$1" && whence -w _hostnic && print -r -- "$_comps[hostnic]"', 'zsh', FILES.zsh]);
    expect(sourced.stderr).toBe('');
    expect(sourced.status).toBe(0);
    expect(lines(sourced.stdout)).toEqual(['_hostnic: function', '_hostnic']);
    const viaFpath = sh(['zsh', '-f', '-c', 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -D && print -r -- "$_comps[hostnic]"', 'zsh', join(REPO, 'completions')]);
    expect(viaFpath.stderr).toBe('');
    expect(viaFpath.stdout.trim()).toBe('_hostnic');
    expect(readFileSync(FILES.zsh, 'utf8').split('\n')[0]).toBe('#compdef hostnic');
  });

  it('fish: sourcing defines the completions', () => {
    const r = sh(['fish', '--no-config', '-c', 'source $argv[1]; and complete -c hostnic', FILES.fish]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/complete .*hostnic/);
  });
});

describe('hostnic completion bash|zsh|fish', () => {
  it.each(['bash', 'zsh', 'fish'] as const)('%s prints the file of completions/', (shell) => {
    const r = sh([CLI, 'completion', shell]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(readFileSync(FILES[shell], 'utf8'));
  });

  it('finds the files in an installed package layout (bin/ dist/ completions/), through a symlinked bin', () => {
    const prefix = join(work, 'prefix');
    const pkg = join(prefix, 'lib', 'node_modules', 'hostnic');
    mkdirSync(pkg, { recursive: true });
    copyFileSync(join(REPO, 'package.json'), join(pkg, 'package.json'));
    for (const d of ['bin', 'dist', 'completions']) cpSync(join(REPO, d), join(pkg, d), { recursive: true });
    mkdirSync(join(prefix, 'bin'));
    symlinkSync(join(pkg, 'bin', 'hostnic'), join(prefix, 'bin', 'hostnic'));
    const r = sh([join(prefix, 'bin', 'hostnic'), 'completion', 'fish']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(readFileSync(FILES.fish, 'utf8'));
  });

  it('takes the shell from $SHELL when none is named; refuses an unknown one', () => {
    expect(sh([CLI, 'completion'], { ...process.env, SHELL: '/usr/bin/zsh' }).stdout).toBe(readFileSync(FILES.zsh, 'utf8'));
    const none = sh([CLI, 'completion'], { ...process.env, SHELL: '/bin/tcsh' });
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^hostnic: name a shell/);
    const bad = sh([CLI, 'completion', 'tcsh']);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe('');
  });
});

describe('static completions', () => {
  it('bash: commands and options', () => {
    expect(bashComplete('hostnic at')).toEqual(['attach']);
    expect(bashComplete('hostnic apply --p')).toEqual(['--prune']);
    expect(bashComplete('hostnic detach --k')).toEqual(['--keep']);
    expect(bashComplete('hostnic ')).toEqual(['apply', 'attach', 'completion', 'detach', 'doctor', 'nics', 'recover', 'schema', 'status']);
    expect(bashComplete('hostnic -v d')).toEqual(['detach', 'doctor']);
    expect(bashComplete('hostnic attach --m')).toEqual(['--mac', '--macvlan', '--macvlan-mode', '--mtu']);
    expect(bashComplete('hostnic doctor --')).toEqual(expect.arrayContaining(['--fix', '--undo', '--state-dir', '--dry-run', '--no-color']));
    expect(bashComplete('hostnic status --')).not.toContain('--fix');
    expect(bashComplete('hostnic completion ')).toEqual(['bash', 'fish', 'zsh']);
    expect(bashComplete('hostnic attach x y --name ')).toEqual([]);
    expect(bashComplete('hostnic attach --macv')).toEqual(['--macvlan', '--macvlan-mode']);
    expect(bashComplete('hostnic attach x y --macvlan --macvlan-mode ')).toEqual(['bridge', 'private', 'vepa']);
    expect(bashComplete('hostnic attach x y --macvlan-mode p')).toEqual(['private']);
  });

  it('fish: commands and options', () => {
    expect(fishComplete('hostnic at')).toEqual(['attach']);
    expect(fishComplete('hostnic --state-dir /x ')).toEqual(['apply', 'attach', 'completion', 'detach', 'doctor', 'nics', 'recover', 'schema', 'status']);
    expect(fishComplete('hostnic attach --f')).toEqual(['--force']);
    expect(fishComplete('hostnic attach --macv')).toEqual(['--macvlan', '--macvlan-mode']);
    expect(fishComplete('hostnic attach x y --macvlan-mode ')).toEqual(['bridge', 'private', 'vepa']);
    expect(fishComplete('hostnic doctor --')).toEqual(expect.arrayContaining(['--fix', '--undo', '--json']));
    expect(fishComplete('hostnic completion ')).toEqual(['bash', 'fish', 'zsh']);
  });

  it('zsh: commands and options, through its line editor', () => {
    expect(zshComplete('hostnic at')).toEqual(['attach']);
    expect(zshComplete('hostnic doctor --')).toEqual(expect.arrayContaining(['--fix', '--undo', '--state-dir']));
    expect(zshComplete('hostnic attach --macvlan-mode=')).toEqual(['bridge', 'private', 'vepa']);
  });
});

describe('hostnic __complete', () => {
  it('prints nothing and exits 0 on anything it cannot answer', () => {
    for (const args of [['__complete'], ['__complete', 'bogus'], ['--state-dir', join(work, 'none'), '__complete', 'attached-containers']]) {
      const r = sh([CLI, ...args]);
      expect({ args, ...r }).toEqual({ args, status: 0, stdout: '', stderr: '' });
    }
    // Unknown options and extra words are ignored, not errors.
    const lax = sh([CLI, '__complete', 'nics', '--bogus', 'x', 'y']);
    expect(lax.status).toBe(0);
    expect(lax.stderr).toBe('');
  });

  it('attached containers and NICs come from the state directory (--state-dir passed through by the scripts)', () => {
    const state = join(work, 'state');
    mkdirSync(join(state, 'attachments'), { recursive: true, mode: 0o700 });
    // Whole records, as attach writes them: one that fails validation (records.ts recordProblem) is not offered.
    const rec = (id: string, target: object, host: string) => ({
      schema: SCHEMA, kind: 'attachment', id, createdAt: '', saved: {},
      input: {
        id, target, ctrName: 'eth1', tmpNs: `hostnic-${id}`, tag: '', path: 'direct',
        host: { name: host, ifindex: 7, mac: '52:54:00:00:00:07', mtu: 1500, up: true, addrs: [], routes: [], sysctls: [] },
        request: { target: { kind: 'name', name: 'x' }, nic: { kind: 'name', name: host }, addresses: [], routes: [], force: false },
      },
    });
    writeFileSync(join(state, 'attachments', '00000001.json'), JSON.stringify(rec('00000001', {
      display: 'docker:web', kind: 'docker', nsPath: '/proc/1/ns/net', nsId: '0:1', pid: 1,
      runtime: { name: 'docker', id: 'abcdef0123456789', containerName: 'web' },
    }, 'nic7')));
    writeFileSync(join(state, 'attachments', '00000002.json'), JSON.stringify(rec('00000002', { display: 'netns:blue', kind: 'netns', nsPath: '/run/netns/blue', nsId: '0:2' }, 'nic8')));
    writeFileSync(join(state, 'attachments', '00000003.json'), JSON.stringify(rec('00000003', { display: 'netns:blue', kind: 'netns', nsPath: '/run/netns/blue', nsId: '0:2' }, 'nic9')));

    expect(lines(sh([CLI, '--state-dir', state, '__complete', 'attached-containers']).stdout)).toEqual(['netns:blue', 'web']);
    expect(lines(sh([CLI, '__complete', 'attached-nics'], { ...process.env, HOSTNIC_STATE_DIR: state }).stdout)).toEqual(['nic7', 'nic8', 'nic9']);
    expect(lines(sh([CLI, '--state-dir', state, '__complete', 'attached-nics', 'docker:web']).stdout)).toEqual(['nic7']);
    expect(lines(sh([CLI, '--state-dir', state, '__complete', 'attached-nics', 'abcdef01']).stdout)).toEqual(['nic7']);

    expect(bashComplete(`hostnic --state-dir ${state} detach `)).toEqual(['netns:blue', 'web']);
    expect(bashComplete(`hostnic detach --state-dir=${state} netns:`)).toEqual(['blue']); // bash replaces the part after ':'
    expect(bashComplete(`hostnic -v --state-dir ${state} detach netns:blue `)).toEqual(['nic8', 'nic9']);
    expect(fishComplete(`hostnic --state-dir ${state} detach `)).toEqual(['netns:blue', 'web']);
    expect(fishComplete(`hostnic --state-dir=${state} detach web `)).toEqual(['nic7']);
    expect(zshComplete(`hostnic --state-dir ${state} detach `)).toEqual(['netns:blue', 'web']);
    expect(zshComplete(`hostnic detach --state-dir ${state} netns:blue `)).toEqual(['nic8', 'nic9']);
  });

  it('recover --abandon completes the ids of the plans a dead hostnic left (not of one still running)', () => {
    const state = join(work, 'state-plans');
    mkdirSync(join(state, 'journal'), { recursive: true, mode: 0o700 });
    const plan = (id: string, pid: number, pidStart?: number) => JSON.stringify({
      schema: SCHEMA, id, command: 'attach', title: `Attach nic1 (${id})`, pid, ...(pidStart !== undefined ? { pidStart } : {}),
      startedAt: '', phase: 'apply', touches: [], locks: [], finalize: {}, steps: [],
    });
    // This test's own process stands for a hostnic still running.
    const start = Number(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[22 - 3]);
    writeFileSync(join(state, 'journal', 'dead0001.json'), plan('dead0001', 99_999_999));
    writeFileSync(join(state, 'journal', 'b0bb0002.json'), plan('b0bb0002', process.pid, start));
    expect(lines(sh([CLI, '--state-dir', state, '__complete', 'unfinished-plans']).stdout)).toEqual(['dead0001']);
    expect(bashComplete(`hostnic --state-dir ${state} recover --abandon `)).toEqual(['dead0001']);
    expect(bashComplete('hostnic recover --a')).toEqual(['--abandon']);
    expect(fishComplete(`hostnic --state-dir ${state} recover --abandon `)).toEqual(['dead0001']);
    expect(zshComplete(`hostnic --state-dir ${state} recover --abandon `)).toEqual(['dead0001']);
  });
});

rootOnly('dynamic values from the system (root)', () => {
  const tag = randomBytes(4).toString('hex');
  const ns = `hncomp-${tag}`;
  const nsFile = `/run/netns/${ns}`;
  const vethA = `hnc${tag}a`;
  const vethB = `hnc${tag}b`;
  let created = false;

  beforeAll(() => {
    needRoot();
    const add = sh(['ip', 'netns', 'add', ns]);
    if (add.status !== 0) throw new Error(`ip netns add ${ns}: ${add.stderr}`);
    created = true;
    for (const argv of [['ip', '-n', ns, 'link', 'set', 'lo', 'up'], ['ip', '-n', ns, 'link', 'add', vethA, 'type', 'veth', 'peer', 'name', vethB]]) {
      const r = sh(argv);
      if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
    }
  });

  afterAll(() => {
    if (created) sh(['ip', 'netns', 'del', ns]);
  });

  it('__complete nics lists the namespace\'s links but lo, fast', () => {
    const started = performance.now();
    const r = sh(inNs(nsFile, [CLI, '__complete', 'nics']));
    const ms = performance.now() - started;
    expect(r.stderr).toBe('');
    expect(lines(r.stdout)).toEqual([vethA, vethB]);
    expect(ms).toBeLessThan(2000); // one node start and one `ip -json link show` (about 0.15 s here)
  });

  it('bash offers the NIC names for `hostnic attach X <TAB>`, not the machine\'s eth0', () => {
    const offered = bashComplete('hostnic attach X ', nsFile);
    expect(offered).toEqual([vethA, vethB]);
    expect(offered).not.toContain('eth0');
    expect(bashComplete(`hostnic attach --name c0 X ${vethA.slice(0, -1)}`, nsFile)).toEqual([vethA, vethB]);
    expect(bashComplete(`hostnic -n attach X ${vethA}`, nsFile)).toEqual([vethA]);
    expect(bashComplete('hostnic attach X eth', nsFile)).toEqual([]);
  });

  it('fish offers them too', () => {
    expect(fishComplete('hostnic attach X ', nsFile)).toEqual([vethA, vethB]);
    expect(fishComplete('hostnic attach X ', nsFile)).not.toContain('eth0');
  });

  it('zsh offers them too', () => {
    expect(zshComplete('hostnic attach X ', nsFile)).toEqual([vethA, vethB]);
  });

  it('another user gets no error and nothing it may not read; `completion` needs no root', () => {
    const asNobody = (args: string[]): Result => sh(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', CLI, ...args]);
    const state = join(work, 'private-state');
    mkdirSync(join(state, 'attachments'), { recursive: true, mode: 0o700 });
    chmodSync(state, 0o700);
    writeFileSync(join(state, 'attachments', 'x.json'), '{}');
    expect(asNobody(['--state-dir', state, '__complete', 'attached-nics'])).toEqual({ status: 0, stdout: '', stderr: '' });
    const script = asNobody(['completion', 'bash']);
    expect(script.status).toBe(0);
    expect(script.stdout).toBe(readFileSync(FILES.bash, 'utf8'));
  });

  describe('running containers (Docker)', () => {
    let ctr: RunningContainer | undefined;
    beforeAll(async () => {
      await ensureDocker();
      ctr = await runContainer(uniqueName('hncomp'));
    });
    afterAll(async () => {
      if (ctr) await removeContainer(ctr.id);
    });

    it('attach <TAB> offers the running container by name', () => {
      const started = performance.now();
      const listed = lines(sh([CLI, '__complete', 'containers']).stdout);
      const why = () => `__complete containers took ${(performance.now() - started).toFixed(0)} ms and gave [${listed.join(', ')}]; docker ps: ${sh(['docker', 'ps', '--format', '{{.Names}}']).stdout}`;
      expect(listed, why()).toContain(ctr!.name);
      expect(bashComplete(`hostnic attach ${ctr!.name.slice(0, -2)}`)).toContain(ctr!.name);
      expect(fishComplete('hostnic attach ')).toContain(ctr!.name);
    });
  });
});
