/**
 * A log line that may repeat thousands of times a second (a scanner hitting the receiver, a target
 * down during --follow) is written at most once per key per interval; the next one written says
 * how many were suppressed meanwhile, so nothing is hidden and the log stays readable.
 */
import type { Logger } from 'pino'

/** @default 10 s */
export const DEFAULT_LOG_INTERVAL_MS = 10_000

export type LogLevelName = 'warn' | 'error' | 'info'

export class RateLimitedLog {
  private readonly last = new Map<string, { at: number, suppressed: number }>()

  constructor (
    private readonly logger: Logger,
    private readonly intervalMs = DEFAULT_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now
  ) {}

  /** Logs `msg` with `fields` unless a line of the same key was written less than the interval ago. */
  log (level: LogLevelName, key: string, fields: Record<string, unknown>, msg: string): boolean {
    const t = this.now()
    const seen = this.last.get(key)
    if (seen !== undefined && t - seen.at < this.intervalMs) {
      seen.suppressed++
      return false
    }
    const suppressed = seen?.suppressed ?? 0
    this.last.set(key, { at: t, suppressed: 0 })
    // Keys come and go (client addresses): forget the ones long quiet, so the map stays small.
    if (this.last.size > 1000) {
      for (const [k, v] of this.last) if (t - v.at >= this.intervalMs) this.last.delete(k)
    }
    this.logger[level](suppressed === 0 ? fields : { ...fields, suppressed, suppressed_interval_s: this.intervalMs / 1000 }, msg)
    return true
  }
}
