/**
 * Telling a callback's kind from its fields (../shared/CALLBACKS.md), in this order, because a
 * STOP also carries `text`: `stop_date` -> optout; `delivery_date` in any case -> delivery;
 * `reception_date` or `answer_date` -> reply; anything else -> unknown (kept, never dropped).
 */
export const KINDS = ['delivery', 'reply', 'optout', 'unknown'] as const
export type CallbackKind = typeof KINDS[number]

export interface Classification {
  kind: CallbackKind
  /** The field that decided the kind, as spelled in the record; undefined for unknown. */
  dateField?: string
}

function present (fields: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(fields, key) && fields[key] !== undefined && fields[key] !== null
}

// Shared answers: classifying allocates nothing for the usual spellings (callers do not mutate them).
const OPTOUT: Classification = Object.freeze({ kind: 'optout', dateField: 'stop_date' })
const DELIVERY: Classification = Object.freeze({ kind: 'delivery', dateField: 'delivery_date' })
const RECEPTION: Classification = Object.freeze({ kind: 'reply', dateField: 'reception_date' })
const ANSWER: Classification = Object.freeze({ kind: 'reply', dateField: 'answer_date' })
const UNKNOWN: Classification = Object.freeze({ kind: 'unknown' })

export function classifyCallback (fields: Record<string, unknown>): Classification {
  if (present(fields, 'stop_date')) return OPTOUT
  // The first own key spelled delivery_date in any case, in key order (for...in without the array Object.keys builds).
  for (const key in fields) {
    if (key.length === 13 && Object.hasOwn(fields, key) && key.toLowerCase() === 'delivery_date' && present(fields, key)) {
      return key === 'delivery_date' ? DELIVERY : { kind: 'delivery', dateField: key }
    }
  }
  if (present(fields, 'reception_date')) return RECEPTION
  if (present(fields, 'answer_date')) return ANSWER
  return UNKNOWN
}
