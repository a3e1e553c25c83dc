/**
 * `status --check`: one word for monitoring scripts, as `pg_isready` gives one, with its reasons.
 *
 *   down (2)      callbacks are not being taken: no receiver runs, free disk is under --min-free
 *                 (the receiver answers 503), or the checkpoint is bad (no pass can run)
 *   degraded (1)  callbacks are taken but not all goes well: a record is stuck (a target keeps
 *                 failing), the oldest record not processed is older than --max-lag, the receiver
 *                 answered 5xx in the last five minutes, or free disk is under twice --min-free
 *   healthy (0)   none of these
 */
import { formatBytes } from '../units.js'
import type { StatusReport } from './status.js'

export type Health = 'healthy' | 'degraded' | 'down'

export const HEALTH_EXIT: Record<Health, number> = { healthy: 0, degraded: 1, down: 2 }

/** `status --max-lag`: degraded when the oldest record not processed is older than this. */
export const DEFAULT_MAX_LAG_MS = 10 * 60_000

export interface HealthThresholds {
  minFreeBytes: number
  maxLagMs: number
}

export function assessHealth (r: Omit<StatusReport, 'health'>, t: HealthThresholds): { state: Health, reasons: string[] } {
  const down: string[] = []
  const degraded: string[] = []
  if (!r.receiver.running) down.push('no receiver is running')
  if (r.disk_free_bytes < t.minFreeBytes) down.push(`free disk ${formatBytes(r.disk_free_bytes)} is under --min-free ${formatBytes(t.minFreeBytes)}`)
  else if (r.disk_free_bytes < 2 * t.minFreeBytes) degraded.push(`free disk ${formatBytes(r.disk_free_bytes)} is under twice --min-free`)
  if (r.checkpoint !== null && !r.checkpoint.valid) down.push('the checkpoint is bad: no pass can run')
  if (r.stuck !== null) degraded.push(`record ${r.stuck.id} is stuck: ${r.stuck.target ?? '-'} keeps failing`)
  const lag = r.backlog?.oldest_age_seconds
  if (lag !== null && lag !== undefined && lag * 1000 > t.maxLagMs) degraded.push(`the oldest record not processed was received ${lag} s ago (over --max-lag)`)
  const answers = r.receiver_answers
  if (r.receiver.running && answers !== null) {
    const errors = Object.entries(answers.last_5m).filter(([status]) => status.startsWith('5')).reduce((sum, [, n]) => sum + n, 0)
    if (errors > 0) degraded.push(`the receiver answered ${errors} request(s) with 5xx in the last 5 min`)
  }
  if (down.length > 0) return { state: 'down', reasons: [...down, ...degraded] }
  if (degraded.length > 0) return { state: 'degraded', reasons: degraded }
  return { state: 'healthy', reasons: [] }
}
