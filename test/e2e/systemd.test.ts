/**
 * The shipped systemd unit (systemd/hostnic.service): systemd-analyze verify
 * finds nothing to say about it, it is in the package, and it says what the
 * README promises (after the runtimes without pulling them in, restart on
 * failure, started at boot, SIGTERM to hostnic only).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { onPath } from '../../src/runtime/common.js';
import { REPO } from '../helpers/lab.js';

const UNIT = join(REPO, 'systemd', 'hostnic.service');
const hasAnalyze = onPath('systemd-analyze') !== undefined || !!process.env.CI;

describe('systemd/hostnic.service', () => {
  const text = readFileSync(UNIT, 'utf8');
  const values = (key: string): string[] => text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));

  it.skipIf(!hasAnalyze)('passes systemd-analyze verify without a word (ExecStart pointed at this checkout, as npm -g would install it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostnic-unit-'));
    try {
      const unit = join(dir, 'hostnic.service');
      writeFileSync(unit, text.replace('/usr/local/bin/hostnic', join(REPO, 'bin', 'hostnic')));
      const r = await execa('systemd-analyze', ['verify', unit], { reject: false });
      expect(r.stderr + r.stdout).toBe('');
      expect(r.exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the installed bin, after the runtimes, restarts on failure, starts at boot', () => {
    expect(values('ExecStart')).toEqual(['/usr/local/bin/hostnic watch']);
    const after = values('After').join(' ').split(/\s+/);
    for (const u of ['docker.service', 'podman.service', 'containerd.service']) expect(after).toContain(u);
    expect(values('Wants')).toEqual([]);
    expect(values('Requires')).toEqual([]);
    expect(values('Restart')).toEqual(['on-failure']);
    expect(values('KillMode')).toEqual(['process']); // DHCP clients outlive a restart of the service
    expect(values('WantedBy')).toEqual(['multi-user.target']);
  });

  it('is in the package', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { files: string[] };
    expect(pkg.files).toContain('systemd/');
  });
});
