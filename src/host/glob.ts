/**
 * Shell-style globs as fnmatch(3) reads them, with no flags: systemd's
 * Name=, Type=, Driver=, Kind= and Path= in .network files, netplan's
 * `name:`. picomatch, with its path and shell extensions turned off (brace
 * expansion, extglobs, a leading `!` negating, dotfile rules), gives the same
 * answer as glibc's fnmatch for *, ?, [...] with ranges, `!`/`^` negation,
 * POSIX classes and backslash escapes; only `*` does not cross a '/', which
 * no interface, driver or kind name contains.
 */
import picomatch from 'picomatch';

const OPTIONS: picomatch.PicomatchOptions = { nobrace: true, noextglob: true, nonegate: true, posix: true, dot: true };

/** Does `text` match the glob? A pattern picomatch cannot compile matches nothing. */
export function globMatch(glob: string, text: string): boolean {
  try {
    return picomatch.isMatch(text, glob, OPTIONS);
  } catch {
    return false;
  }
}
