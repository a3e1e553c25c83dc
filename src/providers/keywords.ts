/**
 * Opt-out and opt-in by keyword: a reply whose whole text, trimmed, case-folded and with its
 * inner blanks collapsed, is one of these words is an `optout` (or an `optin`), whatever the
 * provider. `--optout-keywords` and `--optin-keywords` replace the lists.
 */

/** Twilio's and the US carriers' standard words, and France's (ARRET, ARRÊT, STOP SMS). */
export const DEFAULT_OPTOUT_KEYWORDS: readonly string[] = [
  'STOP', 'STOPALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'REVOKE', 'OPTOUT', 'ARRET', 'ARRÊT', 'STOP SMS',
]
/** Twilio's START and UNSTOP; not its YES, since a "yes" is most often the answer to a question. */
export const DEFAULT_OPTIN_KEYWORDS: readonly string[] = ['START', 'UNSTOP']

function fold (text: string): string {
  return text.trim().replace(/\s+/g, ' ').toLowerCase()
}

export class KeywordLists {
  private readonly optout: Set<string>
  private readonly optin: Set<string>

  constructor (optout: readonly string[] = DEFAULT_OPTOUT_KEYWORDS, optin: readonly string[] = DEFAULT_OPTIN_KEYWORDS) {
    this.optout = new Set(optout.map(fold))
    this.optin = new Set(optin.map(fold))
  }

  /** `optout` or `optin` when the whole text is such a keyword; undefined otherwise. */
  kindOf (text: string | null | undefined): 'optout' | 'optin' | undefined {
    // Keywords are short: a long text is never one, and is not folded for nothing.
    if (typeof text !== 'string' || text.length > 64) return undefined
    const folded = fold(text)
    if (this.optout.has(folded)) return 'optout'
    if (this.optin.has(folded)) return 'optin'
    return undefined
  }
}

export const DEFAULT_KEYWORDS = new KeywordLists()

/** A comma-separated option value as a list (empty items dropped). */
export function parseKeywordList (value: string): string[] {
  return value.split(',').map((k) => k.trim()).filter((k) => k !== '')
}
