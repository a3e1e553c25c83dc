/**
 * Dead letters: `<data-dir>/dead/<YYYY-MM-DD>.ndjson`, one JSON line each:
 * `{record, kind, target, error, attempts, failed_at}`. For a spool line that is not a valid
 * record, `record` is the raw line (a string), `kind` and `target` are null, and `segment` and
 * `offset` say where it was. Lines are buffered and made durable before the checkpoint moves.
 */
import { join } from 'node:path'
import { ensureDir, openForAppend, writeFully } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'
import { maskFreeText, maskUrlCredentials } from '../mask.js'

export interface DeadLetter {
  record: unknown
  kind: string | null
  target: string | null
  error: string
  attempts: number
  failed_at: string
  segment?: string
  offset?: number
  /** A JetStream message that is not a valid record: its sequence in the stream. */
  stream_seq?: number
}

export class DeadLetterWriter {
  readonly dir: string
  private pending: string[] = []

  constructor (layout: DataLayout) {
    this.dir = layout.dead
  }

  add (letter: DeadLetter): void {
    const masked = { ...letter, target: letter.target === null ? null : maskUrlCredentials(letter.target), error: maskFreeText(letter.error) }
    this.pending.push(JSON.stringify(masked) + '\n')
  }

  /** Appends what was added before the call (taken at once: more may be added while it runs) and fdatasyncs. */
  async flush (now = new Date()): Promise<void> {
    if (this.pending.length === 0) return
    const lines = this.pending
    this.pending = []
    try {
      await this.append(Buffer.from(lines.join(''), 'utf8'), now)
    } catch (err) {
      // Kept for a later flush, in front of what came since.
      this.pending = lines.concat(this.pending)
      throw err
    }
  }

  private async append (data: Buffer, now: Date): Promise<void> {
    await ensureDir(this.dir)
    const fh = await openForAppend(join(this.dir, `${now.toISOString().slice(0, 10)}.ndjson`))
    try {
      const { size } = await fh.stat()
      try {
        // A write may be short (a disk filling up): finish it, or the checkpoint would move past
        // records whose dead letters are cut.
        await writeFully(fh, data)
        await fh.datasync()
      } catch (err) {
        // Leave no half line for the next append to run into; the pass fails and retries later.
        await fh.truncate(size).catch(() => {})
        throw err
      }
    } finally {
      await fh.close()
    }
  }
}
