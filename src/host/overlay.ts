/**
 * Configuration directories that overlay each other, as systemd (sysctl.d,
 * .network files) and netplan read them: files with a given suffix from
 * every directory; a name in an earlier directory hides the same name in the
 * later ones; a file linked to /dev/null (or empty) masks the name; the rest
 * apply in order of file name.
 */
import { readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The files that apply, in the order they apply. `dirs`: highest precedence first. */
export function overlayFiles(dirs: readonly string[], suffix: string): string[] {
  const byName = new Map<string, string | null>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith(suffix));
    } catch {
      continue;
    }
    for (const n of names) if (!byName.has(n)) byName.set(n, masked(join(dir, n)) ? null : join(dir, n));
  }
  return [...byName.keys()].sort().flatMap((n) => byName.get(n) ?? []);
}

function masked(path: string): boolean {
  try {
    if (readlinkSync(path) === '/dev/null') return true;
  } catch {
    /* not a symlink */
  }
  try {
    return statSync(path).size === 0;
  } catch {
    return true;
  }
}
