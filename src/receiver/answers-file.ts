/** The receiver's side of state/receiver-answers.json: its response counts, written every few seconds and at stop. */
import type { Logger } from 'pino'
import type { DataLayout } from '../spool/layout.js'
import { ANSWERS_WINDOW_MS, writeReceiverAnswers } from '../spool/receiver-answers.js'
import type { ReceiverStats } from './server.js'

/** How often the file is rewritten. */
export const ANSWERS_INTERVAL_MS = 5000

function counts (responses: Map<number, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [status, n] of [...responses].sort(([a], [b]) => a - b)) out[String(status)] = n
  return out
}

function minus (now: Record<string, number>, then: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [status, n] of Object.entries(now)) if (n - (then[status] ?? 0) > 0) out[status] = n - (then[status] ?? 0)
  return out
}

export function startAnswersFile (layout: DataLayout, stats: ReceiverStats, logger: Logger, intervalMs = ANSWERS_INTERVAL_MS): { stop: () => Promise<void> } {
  const startedAt = new Date().toISOString()
  // Snapshots of the counts, oldest first, over the last five minutes.
  const snapshots: Array<{ at: number, counts: Record<string, number> }> = [{ at: Date.now(), counts: {} }]
  let writing: Promise<void> = Promise.resolve()
  let failed = false
  const tick = (): void => {
    const now = Date.now()
    const total = counts(stats.responses)
    while (snapshots.length > 1 && now - snapshots[1]!.at >= ANSWERS_WINDOW_MS) snapshots.shift()
    const answers = { pid: process.pid, started_at: startedAt, updated_at: new Date(now).toISOString(), since_start: total, last_5m: minus(total, snapshots[0]!.counts) }
    snapshots.push({ at: now, counts: total })
    writing = writing.then(() => writeReceiverAnswers(layout, answers)).then(() => { failed = false }, (err: unknown) => {
      // A full disk is answered 503 and seen elsewhere: one line, not one every few seconds.
      if (!failed) logger.warn({ err }, 'cannot write state/receiver-answers.json (for `status`)')
      failed = true
    })
  }
  tick()
  const timer = setInterval(tick, intervalMs)
  timer.unref()
  return {
    async stop () {
      clearInterval(timer)
      tick()
      await writing
    },
  }
}
