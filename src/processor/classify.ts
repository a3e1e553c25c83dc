/**
 * Telling a callback's kind: the provider's profile (src/providers/) decides. What the processor
 * and the tools import to sort records by kind.
 */
import { profileFor } from '../providers/index.js'
import type { Classification } from '../providers/profile.js'

export { KINDS, type CallbackKind } from '../providers/kinds.js'
export type { Classification }

export function classifyCallback (fields: Record<string, unknown>): Classification {
  return profileFor({ fields }).classify(fields)
}
