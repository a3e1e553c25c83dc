/** For `status`: the pass in progress (state/pass-progress.json, while a processor runs) and the record it is stuck on. */
import type { StuckRecord } from '../processor/pass-activity.js'
import type { PassProgress } from '../processor/pass-watch.js'
import type { DataLayout } from '../spool/layout.js'
import { readFileNoFollow } from '../fs/durable.js'

export async function readPassState (layout: DataLayout, processorRunning: boolean, lastPass: { outcome: string, stuck?: StuckRecord | null } | null): Promise<{ inProgress: PassProgress | null, stuck: StuckRecord | null }> {
  let inProgress: PassProgress | null = null
  // A file left by a processor that was killed describes nothing.
  if (processorRunning) {
    try {
      inProgress = JSON.parse(await readFileNoFollow(layout.passProgress, 'utf8')) as PassProgress
    } catch {}
  }
  const stuck = inProgress?.stuck ?? (lastPass?.outcome === 'retry_later' ? lastPass.stuck ?? null : null)
  return { inProgress, stuck }
}
