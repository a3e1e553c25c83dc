/**
 * The re-queue input: `<data-dir>/requeue/*.ndjson`, each line a spool record v1 (`dead retry`
 * writes there). Each pass dispatches these files first, oldest name first, and deletes a file
 * once all of it is done (a file cut short by a failure is read again in full next time: the
 * handlers are idempotent by id).
 */
import { listNdjsonFiles } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'

export async function listRequeueFiles (layout: DataLayout): Promise<string[]> {
  return await listNdjsonFiles(layout.requeue)
}
