/**
 * `callback-spool dead list | retry [--id ID] | purge --before TIME`: the dead letters the
 * processor wrote in `<data-dir>/dead/<YYYY-MM-DD>.ndjson` (see src/processor/dead-letters.ts).
 *
 * retry writes the records to `<data-dir>/requeue/` (the next pass dispatches them first), makes
 * that file durable, and only then rewrites the dead-letter files without them: a crash in
 * between leaves a record both re-queued and still dead, which at worst dispatches it twice
 * (handlers are idempotent by id), never loses it. Dead letters of invalid spool lines (their
 * `record` is the raw line, a string) are skipped with a message: there is no record to
 * dispatch, and re-queueing the same bytes would only dead-letter them again.
 *
 * retry and purge rewrite files the processor appends to, so they hold the processor lock. While
 * a processor runs, retry leaves a request that the processor carries out at its next pass
 * (src/processor/retry-requests.ts) instead.
 */
import type { DeadLetter } from '../processor/dead-letters.js'
import { chooseForRetry, deadLetterId, readDeadLetters, requeueDeadLetters, rewriteDeadLetters, type RetryResult, type StoredDeadLetter } from '../processor/dead-letter-store.js'
import { writeRetryRequest } from '../processor/retry-requests.js'
import { tryAcquireLock } from '../spool/lock.js'
import { existingDataDir } from '../spool/data-dir.js'
import { dataLayout, type DataLayout } from '../spool/layout.js'
import { maskNumber } from '../mask.js'
import { normaliseNumber } from '../number.js'
import type { SpoolRecord } from '../record.js'
import { confirmIrreversible, parseTimeArg, takeProcessorLock, type ToolIO } from './common.js'
import { recordNumber } from './record-filter.js'

/**
 * The record's phone number, masked (`+336*****233`): enough to tell whose it is, and to find it
 * with `cat --number`. A spool record's as its provider's profile reads it (Twilio's `From`,
 * Vonage's `msisdn`...); a --source processor's dead letter holds the normalised record, whose
 * `number` is read already. Else the first plain number field, as written.
 */
export function deadLetterNumber (letter: DeadLetter): string {
  const record = letter.record as { v?: unknown, number?: unknown, fields?: Record<string, unknown> } | null
  if (record === null || typeof record !== 'object') return '-'
  const read = record.v === 1 ? recordNumber(record as SpoolRecord) : record.number
  if (typeof read === 'string' && read !== '') return maskNumber(read)
  const fields = record.fields
  if (fields === null || typeof fields !== 'object') return '-'
  const raw = [fields.number, fields.from, fields.msisdn].find((v): v is string => typeof v === 'string' && v.trim() !== '')
  return raw === undefined ? '-' : maskNumber(normaliseNumber(raw) ?? raw)
}

export function formatDeadLetter (letter: DeadLetter): string {
  const id = deadLetterId(letter) ?? (letter.segment === undefined ? '-' : `${letter.segment}:${letter.offset ?? 0}`)
  const error = JSON.stringify(letter.error).slice(1, -1)
  return `${letter.failed_at}  ${(letter.kind ?? 'invalid').padEnd(8)}  ${deadLetterNumber(letter).padEnd(16)}  ${id}  ${letter.target ?? '-'}  ${error}  attempts=${letter.attempts}\n`
}

/** Re-queues now, or, while a processor runs, leaves it a request (the dead letters it names are counted, not moved). */
export async function retryDeadLetters (layout: DataLayout, id: string | undefined, now = new Date()): Promise<RetryResult> {
  await existingDataDir(layout)
  const lock = await tryAcquireLock(layout, 'processor')
  if (lock === undefined) {
    const { retry, skippedInvalid } = chooseForRetry(await readDeadLetters(layout), id)
    if (retry.length === 0) return { requeued: 0, skippedInvalid }
    return { requeued: retry.length, skippedInvalid, file: await writeRetryRequest(layout, id, now), deferred: true }
  }
  try {
    return await requeueDeadLetters(layout, id, now)
  } finally {
    await lock.release()
  }
}

/** The dead letters that failed before `beforeMs`. */
function failedBefore (letters: StoredDeadLetter[], beforeMs: number): StoredDeadLetter[] {
  return letters.filter((l) => {
    const t = Date.parse(l.letter.failed_at)
    return !Number.isNaN(t) && t < beforeMs
  })
}

/** Removes the dead letters that failed before `beforeMs`; `confirm` is asked with their count first. */
export async function purgeDeadLetters (layout: DataLayout, beforeMs: number, confirm: (count: number) => Promise<void> = async () => {}): Promise<number> {
  const lock = await takeProcessorLock(layout, 'purge dead letters')
  try {
    const letters = await readDeadLetters(layout)
    const old = failedBefore(letters, beforeMs)
    if (old.length === 0) return 0
    await confirm(old.length)
    await rewriteDeadLetters(letters, new Set(old))
    return old.length
  } finally {
    await lock.release()
  }
}

/** `dead list`: one line per dead letter, or one JSON object per line with its file. */
export async function deadListCommand (opts: { dataDir: string, json?: boolean }, io: ToolIO): Promise<void> {
  // A mistyped --data-dir is not "no dead letters".
  const layout = dataLayout(opts.dataDir)
  await existingDataDir(layout)
  const letters = await readDeadLetters(layout)
  let out = ''
  for (const l of letters) out += opts.json === true ? JSON.stringify({ ...l.letter, file: l.file }) + '\n' : formatDeadLetter(l.letter)
  if (opts.json !== true && letters.length === 0) out = 'no dead letters\n'
  await io.write(out)
}

/** `dead retry`: the records to requeue/ (or a request for the running processor). */
export async function deadRetryCommand (opts: { dataDir: string, id?: string }, io: ToolIO): Promise<void> {
  const r = await retryDeadLetters(dataLayout(opts.dataDir), opts.id)
  let out = r.requeued === 0
    ? 'no dead letter to retry\n'
    : r.deferred === true
      ? `a processor is running: ${r.requeued} record(s) to be re-queued by its next pass (request ${r.file})\n`
      : `${r.requeued} record(s) re-queued in ${r.file}; the next pass dispatches them\n`
  if (r.skippedInvalid > 0) out += `${r.skippedInvalid} dead letter(s) of invalid spool lines skipped and kept: they hold no record to dispatch (fix the line by hand if it matters, then purge them)\n`
  await io.write(out)
}

/** `dead purge --before`: asks on a terminal, needs --yes otherwise. */
export async function deadPurgeCommand (opts: { dataDir: string, before: string, yes?: boolean }, io: ToolIO): Promise<void> {
  const beforeMs = parseTimeArg('--before', opts.before)
  const n = await purgeDeadLetters(dataLayout(opts.dataDir), beforeMs, async (count) => {
    await confirmIrreversible(io, opts.yes === true, `delete ${count} dead letter(s) that failed before ${new Date(beforeMs).toISOString()}`, 'dead purge')
  })
  await io.write(`${n} dead letter(s) purged\n`)
}
