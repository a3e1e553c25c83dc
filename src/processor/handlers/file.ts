/**
 * `file:PATH`: appends the normalised record as one NDJSON line. Lines are buffered and written
 * with one write and one fdatasync per batch (flush), before the checkpoint moves past them; the
 * run loop flushes every batch, so the buffer is bounded by the batch size.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ensureDir, FILE_MODE } from '../../spool/fsutil.js'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

export class FileHandler implements Handler {
  readonly target: string
  readonly path: string
  private pending: string[] = []
  private fh: FileHandle | undefined

  constructor (target: string, path: string) {
    this.target = target
    this.path = resolve(path)
  }

  handle (record: NormalisedCallback): HandlerOutcome {
    this.pending.push(JSON.stringify(record) + '\n')
    return DONE
  }

  /** Throws when the lines cannot be written: the caller must not checkpoint past them. */
  async flush (): Promise<void> {
    if (this.pending.length === 0) return
    const data = this.pending.join('')
    this.pending = []
    try {
      if (this.fh === undefined) {
        await ensureDir(dirname(this.path))
        this.fh = await open(this.path, 'a', FILE_MODE)
      }
      await this.fh.write(data)
      await this.fh.datasync()
    } catch (err) {
      await this.close()
      throw new Error(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    const fh = this.fh
    this.fh = undefined
    await fh?.close().catch(() => {})
  }
}
