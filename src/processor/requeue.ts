/**
 * The re-queue input: `<data-dir>/requeue/*.ndjson`, each line a record as its source's lines hold
 * it (`dead retry` writes there: a spool record v1, or the normalised record of a `--source`
 * processor). Each pass dispatches these files first, oldest name first, and deletes a file once
 * all of it is done (a file cut short by a failure is read again in full next time: the handlers
 * are idempotent by id).
 */
import { unlinkIfExists, listNdjsonFiles } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'
import { readFileLineBatches, type SpoolLine } from '../spool/reader.js'
import type { PassFigures } from './metrics.js'
import type { TakeAcknowledgement } from './commit.js'
import type { PassContext, SourceLine } from './source.js'

export async function listRequeueFiles (layout: DataLayout): Promise<string[]> {
  return await listNdjsonFiles(layout.requeue)
}

/**
 * The re-queue files (listRequeueFiles) dispatched, each through a window of its own and committed
 * with `acknowledgement`; a file is deleted once all of it is settled. A record that keeps failing
 * stops the pass before it (its file is kept), as a spool record does. The source's lines include
 * the files' lines (SpoolLine), which its format reads.
 */
export async function dispatchRequeueFiles<L extends SourceLine> (files: string[], pass: PassContext<L | SpoolLine>, acknowledgement: TakeAcknowledgement): Promise<PassFigures['outcome']> {
  for (const path of files) {
    const window = pass.newWindow()
    let complete = true
    try {
      for await (const lines of readFileLineBatches(path)) {
        for (const line of lines) {
          if (window.halted) break
          pass.figures.requeued_read++
          window.add(line)
          if (!window.hasRoom) await window.room()
        }
        if (window.halted) {
          complete = false
          break
        }
      }
    } catch (err) {
      window.halt()
      await window.drain().catch(() => {})
      throw err
    }
    await window.drain()
    await pass.committer.commit(acknowledgement)
    // Stopped before its end: the whole file is dispatched again by the next pass.
    if (!complete || !window.idle) return pass.stopping() ? 'stopped' : 'retry_later'
    await unlinkIfExists(path)
    pass.logger.info({ file: path }, 're-queued records dispatched')
    if (pass.stopping()) return 'stopped'
  }
  return 'done'
}
