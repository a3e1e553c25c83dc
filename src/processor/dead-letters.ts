/**
 * Dead letters: `<data-dir>/dead/<YYYY-MM-DD>.ndjson`, one JSON line each:
 * `{record, kind, target, error, attempts, failed_at}`. For a spool line that is not a valid
 * record, `record` is the raw line (a string), `kind` and `target` are null, and `segment` and
 * `offset` say where it was. Lines are buffered and made durable before the checkpoint moves.
 */
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDir, FILE_MODE } from '../spool/fsutil.js'
import { dataLayout } from '../spool/layout.js'

export interface DeadLetter {
  record: unknown
  kind: string | null
  target: string | null
  error: string
  attempts: number
  failed_at: string
  segment?: string
  offset?: number
}

export class DeadLetterWriter {
  readonly dir: string
  private pending: string[] = []
  count = 0

  constructor (dataDir: string) {
    this.dir = dataLayout(dataDir).dead
  }

  add (letter: DeadLetter): void {
    this.pending.push(JSON.stringify(letter) + '\n')
    this.count++
  }

  async flush (now = new Date()): Promise<void> {
    if (this.pending.length === 0) return
    const data = this.pending.join('')
    await ensureDir(this.dir)
    const fh = await open(join(this.dir, `${now.toISOString().slice(0, 10)}.ndjson`), 'a', FILE_MODE)
    try {
      await fh.write(data)
      await fh.datasync()
    } finally {
      await fh.close()
    }
    this.pending = []
  }
}
