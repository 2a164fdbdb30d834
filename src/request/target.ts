/** How the user names the container: `pid:`, `netns:`, a path, a runtime ref, or a bare name. */
import path from 'node:path';
import type { TargetSpec } from './types.js';
import { fail, q } from './text.js';

export const TARGET_FORMS =
  'pid:PID, netns:NAME, an absolute netns file path, docker:NAME, podman:NAME, containerd:[NAMESPACE/]ID, or a container name';

/** The kernel's PID_MAX_LIMIT on 64-bit: no PID is larger. */
export const PID_MAX = 4194304;
/** NAME_MAX and PATH_MAX - 1. */
const NAME_MAX = 255;
const PATH_MAX = 4095;
/** containerd's identifier rule (namespaces and container ids). */
const CONTAINERD_ID = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const CONTAINERD_ID_MAX = 76;
const CONTROL = /[\x00-\x1f\x7f]/;

/** Docker's and Podman's container-name alphabet; hex ids fit it too. */
const CONTAINER_REF = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/**
 * hostnic's bound on a container name or id. Neither Docker nor Podman bounds
 * a name (Docker 20.10 and Podman 4.3 both took a 5000-character one); 255 is
 * NAME_MAX, the longest name nerdctl can keep (it stores a file per name), and
 * the bound netns names have.
 */
export const CONTAINER_REF_MAX = 255;

/**
 * The one check of a Docker or Podman container name or id (`what` says which
 * was asked for; `s` is the target as the user wrote it, for the message).
 * The parser applies it, and runtime/ again before a ref goes into an API path
 * or a filter. Returns `ref`; throws the exit-2 UsageError.
 */
export function checkContainerRef(s: string, ref: string, what: string): string {
  if (!CONTAINER_REF.test(ref)) {
    fail(
      `invalid target ${q(s)}: a ${what} may only contain letters, digits, "_", "." and "-", and must start with a letter or digit`,
    );
  }
  if (ref.length > CONTAINER_REF_MAX) fail(`invalid target ${q(s)}: the ${what} is longer than ${CONTAINER_REF_MAX} characters`);
  return ref;
}

function checkContainerdId(s: string, id: string, what: string): string {
  if (!CONTAINERD_ID.test(id)) {
    fail(
      `invalid target ${q(s)}: a containerd ${what} is letters and digits, optionally joined by single "_", "." or "-"`,
    );
  }
  if (id.length > CONTAINERD_ID_MAX) fail(`invalid target ${q(s)}: the containerd ${what} is longer than ${CONTAINERD_ID_MAX} characters`);
  return id;
}

/**
 * What hostnic's journal takes as one argument of a command (steps/shapes.ts needToken): a namespace
 * path or name outside it could be attached, but not journaled.
 */
const PLAIN = /^[\x21-\x7e]+$/;
const UNPLAIN = /["\\#]/;
const plainOnly = (s: string, part: string, what: string): void => {
  if (!PLAIN.test(part) || UNPLAIN.test(part)) fail(`invalid target ${q(s)}: hostnic takes a ${what} of printable ASCII without spaces, '"', '\\' or '#'`);
};

function parsePath(s: string): TargetSpec {
  if (CONTROL.test(s)) fail(`invalid target ${q(s)}: the path contains a control character`);
  if (s === '/') fail(`invalid target "/": the root directory is not a namespace file`);
  if (Buffer.byteLength(s) > PATH_MAX) fail(`invalid target ${q(s)}: the path is longer than ${PATH_MAX} bytes`);
  const normal = path.posix.normalize(s).replace(/\/+$/, '');
  if (normal !== s) fail(`invalid target ${q(s)}: the path is not in normal form (did you mean ${q(normal)}?)`);
  plainOnly(s, s, 'namespace path');
  return { kind: 'path', path: s };
}

/**
 * `pid:<n>`, `netns:<name>`, `/path/to/netns`, `docker:<ref>`,
 * `podman:<ref>`, `containerd:[<namespace>/]<id>`, or a bare container name.
 * The scheme is matched case-insensitively.
 */
export function parseTarget(s: string): TargetSpec {
  if (s === '') fail('target is empty', `name the container as ${TARGET_FORMS}`);
  if (s.includes('\0')) fail(`invalid target ${q(s)}: contains a NUL byte`);
  if (s.startsWith('/')) return parsePath(s);

  const colon = s.indexOf(':');
  if (colon === -1) {
    if (s.includes('/')) {
      fail(`invalid target ${q(s)}: a netns file path must be absolute (start with "/")`);
    }
    return { kind: 'name', name: checkContainerRef(s, s, 'container name') };
  }

  const scheme = s.slice(0, colon).toLowerCase();
  const value = s.slice(colon + 1);
  switch (scheme) {
    case 'pid': {
      if (value === '') fail(`target ${q(s)} has an empty PID`);
      if (!/^[1-9][0-9]*$/.test(value)) fail(`invalid target ${q(s)}: the PID must be a positive decimal integer`);
      const pid = value.length > 7 ? Infinity : Number(value);
      if (pid > PID_MAX) fail(`invalid target ${q(s)}: PID ${value} is above the kernel's limit (${PID_MAX})`);
      return { kind: 'pid', pid };
    }
    case 'netns': {
      if (value === '') fail(`target ${q(s)} has an empty namespace name`);
      if (value.includes('/')) {
        fail(`invalid target ${q(s)}: a namespace name (under /run/netns) cannot contain "/"`, 'for a netns file elsewhere, give its absolute path alone');
      }
      if (value === '.' || value === '..') fail(`invalid target ${q(s)}: "." and ".." are not namespace names`);
      if (CONTROL.test(value)) fail(`invalid target ${q(s)}: the namespace name contains a control character`);
      if (Buffer.byteLength(value) > NAME_MAX) fail(`invalid target ${q(s)}: the namespace name is longer than ${NAME_MAX} bytes`);
      plainOnly(s, value, 'namespace name');
      return { kind: 'netns', name: value };
    }
    case 'docker':
    case 'podman': {
      if (value === '') fail(`target ${q(s)} has an empty container name`);
      return { kind: scheme, ref: checkContainerRef(s, value, 'container name or id') };
    }
    case 'containerd': {
      if (value === '') fail(`target ${q(s)} has an empty container id`);
      const parts = value.split('/');
      if (parts.length > 2) fail(`invalid target ${q(s)}: expected containerd:[NAMESPACE/]ID, with at most one "/"`);
      if (parts.length === 1) return { kind: 'containerd', ref: checkContainerdId(s, value, 'container id') };
      const [namespace = '', id = ''] = parts;
      if (namespace === '') fail(`target ${q(s)} has an empty containerd namespace`);
      if (id === '') fail(`target ${q(s)} has an empty container id`);
      return {
        kind: 'containerd',
        namespace: checkContainerdId(s, namespace, 'namespace'),
        ref: checkContainerdId(s, id, 'container id'),
      };
    }
    default:
      fail(`unknown target ${q(s)}: use ${TARGET_FORMS}`);
  }
}
