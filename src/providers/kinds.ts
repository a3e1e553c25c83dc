/** The kinds of callback every provider's events are sorted into; `unknown` is kept, never dropped. */
export const KINDS = ['delivery', 'reply', 'optout', 'optin', 'unknown'] as const
export type CallbackKind = typeof KINDS[number]
