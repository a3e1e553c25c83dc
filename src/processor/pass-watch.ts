/**
 * While a pass runs: every `--watch-interval` (5 s), a warn line for each handler call that has
 * been waiting longer than that ("still waiting on record X, target Y for N s"), and
 * `state/pass-progress.json` rewritten (pid, start, records read, the calls in progress, the
 * record the pass is stuck on), which `status` shows as the pass in progress. Removed when the
 * pass ends. Not made durable: it only describes a running process.
 */
import { dirname } from 'node:path'
import type { Logger } from 'pino'
import { ensureDir, unlinkIfExists, writeFileDurably } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'
import type { PassFigures } from './metrics.js'
import type { PassActivity, StuckRecord } from './pass-activity.js'

export interface PassProgress {
  pid: number
  started_at: string
  updated_at: string
  records_read: number
  /** The handler calls in progress, oldest first. */
  waiting: Array<{ id: string, kind: string, target: string, since: string, seconds: number }>
  stuck: StuckRecord | null
}

export class PassWatch {
  private readonly path: string
  private readonly timer: NodeJS.Timeout
  private writing: Promise<void> = Promise.resolve()
  /** Most passes end before the first tick: nothing to remove then. */
  private wrote: boolean

  /** `firstPass`: a file a killed processor left is removed at the end of this pass even if it writes none. */
  constructor (layout: DataLayout, private readonly activity: PassActivity, private readonly figures: PassFigures, private readonly logger: Logger, intervalMs: number, firstPass: boolean) {
    this.path = layout.passProgress
    this.wrote = firstPass
    this.timer = setInterval(() => this.tick(intervalMs), intervalMs)
    this.timer.unref()
  }

  private tick (intervalMs: number): void {
    const now = Date.now()
    const waiting = this.activity.waiting()
    for (const call of waiting) {
      const seconds = Math.round((now - call.since) / 1000)
      if (now - call.since >= intervalMs) {
        this.logger.warn({ id: call.id, kind: call.kind, target: call.target, waiting_seconds: seconds },
          `still waiting on record ${call.id}, target ${call.target} for ${seconds} s`)
      }
    }
    const progress: PassProgress = {
      pid: process.pid,
      started_at: this.figures.started_at,
      updated_at: new Date(now).toISOString(),
      records_read: this.figures.records_read,
      waiting: waiting.map((c) => ({ id: c.id, kind: c.kind, target: c.target, since: new Date(c.since).toISOString(), seconds: Math.round((now - c.since) / 1000) })),
      stuck: this.activity.stuck ?? null,
    }
    this.wrote = true
    this.writing = this.writing.then(() => this.write(progress))
  }

  private async write (progress: PassProgress): Promise<void> {
    try {
      await ensureDir(dirname(this.path))
      // Through a temp file created exclusively under a random name, never through a link.
      await writeFileDurably(this.path, JSON.stringify(progress) + '\n')
    } catch (err) {
      this.logger.debug({ err }, 'cannot write state/pass-progress.json')
    }
  }

  /** The pass ended: no more ticks, and no progress file left behind. */
  async stop (): Promise<void> {
    clearInterval(this.timer)
    await this.writing
    if (this.wrote) await unlinkIfExists(this.path).catch(() => {})
  }
}
