/**
 * What the Multus DaemonSet ships (examples/cni/multus.json), run for real
 * short of a cluster: the ConfigMap's files taken from this build, the init
 * container's own install script run against a directory standing for the
 * node's /opt, and the `/opt/cni/bin/hostnic` it writes called as a runtime
 * calls a plugin (CNI_COMMAND=VERSION). Paths the container sees (/host,
 * /hostnic, the image's node) are mapped to temporary ones; /opt is the
 * installed directory, bind-mounted in a private mount namespace (unshare),
 * so the wrapper runs with the very paths it names.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { requireRoot } from '../helpers/lab.js';

const root = requireRoot();
const REPO = join(import.meta.dirname, '..', '..');

interface Item { key: string; path: string }

describe.skipIf(!root)('the Multus DaemonSet installs a plugin that runs', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'hostnic-ds-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('its init container installs node and the bundle; /opt/cni/bin/hostnic answers VERSION', () => {
    const list = JSON.parse(readFileSync(join(REPO, 'examples', 'cni', 'multus.json'), 'utf8'));
    const spec = list.items.find((i: { kind: string }) => i.kind === 'DaemonSet').spec.template.spec;
    const install = spec.initContainers[0];
    const volume = spec.volumes.find((v: { configMap?: unknown }) => v.configMap);
    // The ConfigMap, as README's kubectl command makes it: each item is the build's file of the same path.
    const items: Item[] = volume.configMap.items;
    for (const it of items) {
      const src = join(REPO, it.path);
      expect(existsSync(src), `${it.path} (ConfigMap key ${it.key}) is in the build`).toBe(true);
      mkdirSync(dirname(join(tmp, 'hostnic', it.path)), { recursive: true });
      copyFileSync(src, join(tmp, 'hostnic', it.path));
    }
    // A ConfigMap file is not executable: the wrapper runs node on it, not it.
    chmodSync(join(tmp, 'hostnic', 'bin', 'hostnic'), 0o644);
    mkdirSync(join(tmp, 'host', 'opt', 'cni', 'bin'), { recursive: true });

    // The install script as the manifest has it, with the container's paths mapped to ours.
    expect(install.command.slice(0, 2)).toEqual(['sh', '-c']);
    const script = (install.command[2] as string)
      .replaceAll('/host/opt', join(tmp, 'host', 'opt'))
      .replaceAll(' /hostnic/', ` ${join(tmp, 'hostnic')}/`)
      .replaceAll('/usr/local/bin/node', process.execPath);
    const runner = join(tmp, 'run.mjs');
    writeFileSync(runner, [
      "import { spawnSync } from 'node:child_process';",
      'const [script, opt] = process.argv.slice(2);',
      "const sh = spawnSync('sh', ['-c', script], { encoding: 'utf8' });",
      "if (sh.status !== 0) { console.log(JSON.stringify({ step: 'install', ...sh })); process.exit(1); }",
      "const m = spawnSync('mount', ['--bind', opt, '/opt'], { encoding: 'utf8' });",
      "if (m.status !== 0) { console.log(JSON.stringify({ step: 'mount', ...m })); process.exit(1); }",
      "const v = spawnSync('/opt/cni/bin/hostnic', [], { encoding: 'utf8', input: JSON.stringify({ cniVersion: '1.1.0' }),",
      "  env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: 'VERSION' } });",
      "console.log(JSON.stringify({ step: 'version', status: v.status, stdout: v.stdout, stderr: v.stderr }));",
    ].join('\n'));
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', process.execPath, runner, script, join(tmp, 'host', 'opt')], { encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { step: string; status: number; stdout: string; stderr: string };
    expect(out, JSON.stringify(out)).toMatchObject({ step: 'version', status: 0 });
    expect(JSON.parse(out.stdout)).toMatchObject({ cniVersion: '1.1.0', supportedVersions: expect.arrayContaining(['0.4.0', '1.0.0', '1.1.0']) });

    // What the node has after the install: node, the bundle, and an executable wrapper in the CNI bin directory.
    const opt = join(tmp, 'host', 'opt');
    expect(statSync(join(opt, 'hostnic', 'node')).mode & 0o111).not.toBe(0);
    expect(statSync(join(opt, 'cni', 'bin', 'hostnic')).mode & 0o777).toBe(0o755);
    expect(readFileSync(join(opt, 'cni', 'bin', 'hostnic'), 'utf8')).toBe('#!/bin/sh\nexec /opt/hostnic/node /opt/hostnic/bin/hostnic "$@"\n');
    expect(existsSync(join(opt, 'hostnic', 'dist', 'hostnic.js'))).toBe(true);
    expect(existsSync(join(opt, 'cni', 'bin', '.hostnic.new'))).toBe(false);
  });
});
