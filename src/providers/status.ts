/**
 * One vocabulary of delivery statuses across providers; each profile maps its own words to it and
 * keeps the word as sent in `provider_status`. A word a profile does not know maps to `unknown`.
 */
export const STATUSES = ['accepted', 'sent', 'delivered', 'read', 'failed', 'expired', 'rejected', 'unknown'] as const
export type DeliveryStatus = typeof STATUSES[number]

/** A profile's table, matched without regard to case; null (no word sent) stays null. */
export function statusMapper (table: Record<string, DeliveryStatus>): (word: string | null) => DeliveryStatus | null {
  const byWord = new Map(Object.entries(table).map(([word, status]) => [word.toLowerCase(), status]))
  return (word) => word === null ? null : (byWord.get(word.trim().toLowerCase()) ?? 'unknown')
}
