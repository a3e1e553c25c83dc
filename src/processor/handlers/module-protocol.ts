/** The messages between a `module:PATH` handler and the thread its module runs in. */
import type { NormalisedCallback } from '../normalise.js'

export interface ModuleThreadData {
  /** The module's file URL. */
  href: string
}

/** To the thread: one record to handle. */
export interface ModuleCall {
  id: number
  record: NormalisedCallback
}

/** From the thread: the module is loaded (or cannot be used), or one call's result. */
export type ModuleReply =
  | { type: 'ready' }
  | { type: 'unusable', error: string }
  | { type: 'answer', id: number, error?: string, permanent?: boolean }
