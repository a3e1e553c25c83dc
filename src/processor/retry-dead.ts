/** The `dead retry` requests left while this processor ran, carried out under its lock (see retry-requests.ts). */
import type { Logger } from 'pino'
import { NotFoundError } from '../errors.js'
import type { DataLayout } from '../spool/layout.js'
import { requeueDeadLetters } from './dead-letter-store.js'
import { listRetryRequests, removeRetryRequest } from './retry-requests.js'

/** Each request: its dead letters moved to a re-queue file, then the request removed. A failure is logged and the request kept for the next pass. */
export async function carryOutRetryRequests (layout: DataLayout, logger: Logger): Promise<void> {
  try {
    for (const request of await listRetryRequests(layout)) {
      try {
        const r = await requeueDeadLetters(layout, request.id)
        logger.info({ id: request.id ?? null, requeued: r.requeued, skipped_invalid: r.skippedInvalid, file: r.file ?? null }, 'dead retry carried out: dead letters re-queued')
      } catch (err) {
        if (!(err instanceof NotFoundError)) throw err
        logger.warn({ id: request.id ?? null }, 'dead retry: no dead letter left with this id (retried or purged meanwhile)')
      }
      await removeRetryRequest(request)
    }
  } catch (err) {
    logger.error({ err }, 'cannot carry out a dead retry request; it is kept for the next pass')
  }
}
