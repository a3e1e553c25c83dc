/**
 * Whether a text mentions one phone number, in any spelling: what `purge --number` erases by.
 * A spelling is a run of digits with optional separators (spaces, `.`, `-`, `/`, parentheses, a
 * `+` as a form encodes a space), a `+` or `00` prefix, whose digits are the number's E.164
 * digits: `+33600112233`, `0033600112233`, `33600112233`, `+33 6 00 11 22 33`, `+33-600-112-233`,
 * `+33 (0)6 00 11 22 33`. The run must start and end on a group of digits, so `1233600112233`
 * does not match. Separators may be percent-encoded (a form body, a path); base64 bodies are decoded.
 */

// A base64 body in a record, or in a record quoted as a JSON string (a dead letter of an invalid
// line), possibly cut short (a torn line).
const BASE64_BODY = /\\?"body_base64\\?"\s*:\s*\\?"([A-Za-z0-9+/=]+)/g

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/**
 * The length of the separator at `j` (0: none): a space, `.`, `-`, `/`, `+` (a space in a form),
 * a parenthesis, a trunk `(0)`, a JSON-escaped `\n`, or one of these percent-encoded (`%2B`, `%20`).
 */
function separatorAt (text: string, j: number): number {
  const c = text.charCodeAt(j)
  if (c === 0x20 || c === 0x09 || c === 0xa0 || c === 0x2e || c === 0x2d || c === 0x2f || c === 0x2b || c === 0x29) return 1
  if (c === 0x28) return text.charCodeAt(j + 1) === 0x30 && text.charCodeAt(j + 2) === 0x29 ? 3 : 1
  if (c === 0x25 && text.charCodeAt(j + 1) === 0x32) {
    const h = text.charCodeAt(j + 2) | 0x20
    // %20 space, %28 %29 parentheses, %2B +, %2D -, %2E ., %2F /
    return h === 0x30 || h === 0x38 || h === 0x39 || h === 0x62 || h === 0x64 || h === 0x65 || h === 0x66 ? 3 : 0
  }
  if (c === 0x5c) {
    const n = text.charCodeAt(j + 1)
    if (n === 0x6e || n === 0x72 || n === 0x74) return 2
  }
  return 0
}

/** Whether the digits from `i` on, separators skipped (at most three in a row), are `target` and then end. */
function spellsAt (text: string, i: number, target: string): boolean {
  let k = 0
  let j = i
  for (;;) {
    const c = text.charCodeAt(j)
    if (isDigit(c)) {
      if (c !== target.charCodeAt(k)) return false
      k++
      j++
      if (k === target.length) return !isDigit(text.charCodeAt(j))
      continue
    }
    let run = 0
    let len: number
    while (run < 3 && (len = separatorAt(text, j)) > 0) {
      j += len
      run++
    }
    if (run === 0 || !isDigit(text.charCodeAt(j))) return false
  }
}

function plainTextMentions (text: string, digits: string): boolean {
  const first = digits.charCodeAt(0)
  const withZeros = `00${digits}`
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    // A spelling starts a group of digits (`1233600112233` is not `33600112233`); the `2` of `%20`
    // is no digit, and `%20` before a group is a separator.
    if (!isDigit(c) || text.charCodeAt(i - 1) === 0x25) continue
    if (isDigit(text.charCodeAt(i - 1)) && !(i >= 3 && text.charCodeAt(i - 3) === 0x25 && separatorAt(text, i - 3) === 3)) continue
    if ((c === first && spellsAt(text, i, digits)) || (c === 0x30 && spellsAt(text, i, withZeros))) return true
  }
  return false
}

/**
 * Whether `text` (a spool line, a dead letter, a fragment: anything) spells the number whose
 * E.164 digits (without `+`) are `digits`, in its text or in a base64 body.
 */
export function textMentionsNumber (text: string, digits: string): boolean {
  if (plainTextMentions(text, digits)) return true
  if (text.includes('body_base64')) {
    for (const m of text.matchAll(BASE64_BODY)) {
      if (textMentionsNumber(Buffer.from(m[1]!, 'base64').toString('latin1'), digits)) return true
    }
  }
  return false
}
