/** Phone numbers in the spellings of providers that always send them in one form. */
import { normaliseNumber } from '../number.js'

/**
 * For providers that always send international numbers without the `+` (Vonage, Plivo, Sinch,
 * Infobip, ...): 7 to 15 digits get their `+`; anything else (a sender name) as normaliseNumber.
 */
export function internationalNumber (value: string | null): string | null {
  if (value !== null && /^\d{7,15}$/.test(value.trim())) return '+' + value.trim()
  return normaliseNumber(value)
}
