/**
 * Small helpers shared by the spec parsers: quoting user input for messages
 * and raising the one-line usage error.
 */
import { UsageError } from '../errors.js';

/** Longer values are cut in messages: no valid value comes close. */
const QUOTE_MAX = 300;

/**
 * A user-supplied value, double-quoted for a message. Control characters,
 * DEL, C1 controls and Unicode line separators are escaped, so a hostile or
 * mistyped value can never break the message over several lines or send
 * terminal escape sequences. Very long values are cut.
 */
export function q(value: string): string {
  if (value.length > QUOTE_MAX) {
    return `${q(value.slice(0, QUOTE_MAX))}... (${value.length} characters)`;
  }
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Throw the exit-2 error. `message` is one line, lower-case start, no final period. */
export function fail(message: string, hint?: string): never {
  throw new UsageError(message, hint);
}

/** `s` with control characters (ESC included) and U+2028/2029 made spaces, newlines kept, cut to `max`: text from outside (a container's interface name, a command's stderr) safe to print. */
export const printable = (s: string, max: number): string => s.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').slice(0, max);

/** True when `s` holds only printable ASCII (0x21..0x7e when `space` is false). */
export function isPrintableAscii(s: string, space = false): boolean {
  return space ? /^[\x20-\x7e]*$/.test(s) : /^[\x21-\x7e]*$/.test(s);
}
