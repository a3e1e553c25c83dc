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

export function classifyCallback (fields: Record<string, unknown>): Classification {
  if (present(fields, 'stop_date')) return { kind: 'optout', dateField: 'stop_date' }
  for (const key of Object.keys(fields)) {
    if (key.length === 13 && key.toLowerCase() === 'delivery_date' && present(fields, key)) return { kind: 'delivery', dateField: key }
  }
  if (present(fields, 'reception_date')) return { kind: 'reply', dateField: 'reception_date' }
  if (present(fields, 'answer_date')) return { kind: 'reply', dateField: 'answer_date' }
  return { kind: 'unknown' }
}
