/**
 * What a pass is doing now, for the operator: the handler calls in progress (the dispatcher
 * registers them), and the record the pass is stuck on (the settler reports it). A pass that is
 * quiet for long says so: a periodic log line, and `state/pass-progress.json` for `status`.
 */
import type { CallbackKind } from './classify.js'

export interface HandlerCall {
  id: string
  kind: CallbackKind
  target: string
  /** Epoch ms. */
  since: number
}

/** The record a pass retries, or stopped before: what `status` shows as stuck. */
export interface StuckRecord {
  id: string
  kind: CallbackKind
  target: string | null
  /** Masked: no phone number. */
  error: string
  /** Failed passes so far, and the count from which it may be dead-lettered. */
  attempts: number
  max_attempts: number
  /** ISO 8601: the record's first failure. */
  failing_since: string
  /** ISO 8601: when it may be dead-lettered at the earliest. */
  dead_after: string
}

export class PassActivity {
  private readonly calls = new Map<number, HandlerCall>()
  private next = 0
  stuck: StuckRecord | undefined

  /** A handler call starts; returns the token that ends it. */
  begin (id: string, kind: CallbackKind, target: string): number {
    const token = this.next++
    this.calls.set(token, { id, kind, target, since: Date.now() })
    return token
  }

  end (token: number): void {
    this.calls.delete(token)
  }

  /** The calls in progress, oldest first. */
  waiting (): HandlerCall[] {
    return [...this.calls.values()].sort((a, b) => a.since - b.since)
  }
}

/** Digit runs long enough to be phone numbers, in an error text (a handler's stderr, a URL), masked. */
export function maskErrorText (text: string): string {
  return text.replace(/\+?\d[\d .-]{5,}\d/g, (run) => {
    const digits = run.replace(/[ .-]/g, '')
    return digits.length < 7 ? run : digits.slice(0, 4) + '*'.repeat(digits.length - 7) + digits.slice(-3)
  })
}
