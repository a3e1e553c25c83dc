/**
 * The dead letters as stored in `<data-dir>/dead/<YYYY-MM-DD>.ndjson` (written by
 * dead-letters.ts): read back, re-queued into `<data-dir>/requeue/`, and the files rewritten
 * without the letters moved or purged. The processor carries out `dead retry` requests with it
 * (retry-dead.ts); `callback-spool dead` (src/tools/dead.ts) lists, retries and purges with it.
 * The caller holds the processor lock whenever files are rewritten.
 */
import { unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { NotFoundError } from '../errors.js'
import { ensureDir, fsyncDir, listNdjsonFiles, readFileNoFollow, writeFileDurably } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'
import type { DeadLetter } from './dead-letters.js'

export interface StoredDeadLetter {
  file: string
  letter: DeadLetter
  /** The line as stored, without its `\n`, to write back unchanged. */
  raw: string
}

/** The dead-letter files, oldest first. */
async function deadFiles (layout: DataLayout): Promise<string[]> {
  return await listNdjsonFiles(layout.dead)
}

/** Every dead letter, file by file; a line that does not parse is kept as it is, with an error. */
export async function readDeadLetters (layout: DataLayout): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = []
  for (const file of await deadFiles(layout)) {
    for (const raw of (await readFileNoFollow(file, 'utf8')).split('\n')) {
      if (raw === '') continue
      let letter: DeadLetter
      try {
        letter = JSON.parse(raw) as DeadLetter
      } catch {
        letter = { record: raw, kind: null, target: null, error: 'unreadable dead-letter line', attempts: 0, failed_at: '' }
      }
      out.push({ file, letter, raw })
    }
  }
  return out
}

/** The record's id, when the dead letter holds a record (not the raw text of an invalid line). */
export function deadLetterId (letter: DeadLetter): string | undefined {
  const r = letter.record
  return r !== null && typeof r === 'object' && typeof (r as { id?: unknown }).id === 'string' ? (r as { id: string }).id : undefined
}

/** Rewrites each touched file with the letters it keeps (atomically); removes a file left empty. */
export async function rewriteDeadLetters (letters: StoredDeadLetter[], remove: Set<StoredDeadLetter>): Promise<void> {
  const files = new Set([...remove].map((l) => l.file))
  for (const file of files) {
    const kept = letters.filter((l) => l.file === file && !remove.has(l))
    if (kept.length === 0) {
      await unlink(file)
      await fsyncDir(dirname(file))
    } else {
      await writeFileDurably(file, kept.map((l) => l.raw + '\n').join(''))
    }
  }
}

export interface RetryResult {
  requeued: number
  skippedInvalid: number
  file?: string
  /** A processor runs: `file` is a request it carries out at its next pass. */
  deferred?: boolean
}

/** The dead letters to re-queue: all, or those of `id`, that hold a record. */
export function chooseForRetry (letters: StoredDeadLetter[], id: string | undefined): { retry: StoredDeadLetter[], skippedInvalid: number } {
  const chosen = letters.filter((l) => id === undefined || deadLetterId(l.letter) === id)
  const retry = chosen.filter((l) => deadLetterId(l.letter) !== undefined)
  if (id !== undefined && retry.length === 0) {
    throw new NotFoundError(`no dead letter holds a record with id ${id} (see \`callback-spool dead list\`)`)
  }
  return { retry, skippedInvalid: chosen.length - retry.length }
}

/** The dead letters (all, or of `id`) moved to a re-queue file; the caller holds the processor lock. */
export async function requeueDeadLetters (layout: DataLayout, id: string | undefined, now = new Date()): Promise<RetryResult> {
  const letters = await readDeadLetters(layout)
  const { retry, skippedInvalid } = chooseForRetry(letters, id)
  if (retry.length === 0) return { requeued: 0, skippedInvalid }
  const dir = layout.requeue
  await ensureDir(dir)
  // Names sort in time order: the processor takes re-queue files oldest first.
  const file = join(dir, `${now.toISOString().replace(/[-:.]/g, '')}-dead-retry-${process.pid}.ndjson`)
  // Each record as its dead letter holds it: a spool record, or a --source processor's normalised
  // record, which is what that processor reads. writeFileDurably writes a dot-file first, which
  // the processor ignores, then renames it.
  await writeFileDurably(file, retry.map((l) => `${JSON.stringify(l.letter.record)}\n`).join(''))
  await rewriteDeadLetters(letters, new Set(retry))
  return { requeued: retry.length, skippedInvalid, file }
}
