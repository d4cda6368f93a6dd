/**
 * Text that came from the network (a delivery's event, a cancel reason, a response body) printed
 * to a terminal or a log could carry escape sequences that clear the screen, move the cursor or
 * forge a line. `untrusted` escapes every control character, on a TTY and on a pipe alike.
 */

// C0 controls (tab and newline included: one value, one line), DEL, C1 controls, and the Unicode
// line and paragraph separators, which some terminals and log viewers break lines on.
const controls = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g

const escape = (character: string) => {
  const code = character.charCodeAt(0)
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
}

/** `text` with every control character written as `\xNN` (or `\uNNNN`): safe to print. */
export const untrusted = (text: string): string => text.replace(controls, escape)
