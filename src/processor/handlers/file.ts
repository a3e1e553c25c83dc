/**
 * `file:PATH`: appends the normalised record as one NDJSON line. Lines are buffered and written
 * in large writes as the batch goes (keeping memory and garbage small), then made durable with
 * one fdatasync per batch (flush), before the checkpoint moves past them.
 */
import { open, type FileHandle } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { ensureDir, FILE_MODE } from '../../spool/fsutil.js'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

/** Write (without syncing) once this many characters are buffered. */
const WRITE_AT = 64 * 1024

export class FileHandler implements Handler {
  readonly target: string
  readonly path: string
  private pending: string[] = []
  private pendingChars = 0
  private fh: FileHandle | undefined
  /** Writes in flight, chained so they land in order. */
  private writing: Promise<void> = Promise.resolve()
  private writeError: unknown

  constructor (target: string, path: string) {
    this.target = target
    this.path = resolve(path)
  }

  handle (record: NormalisedCallback): HandlerOutcome {
    const line = JSON.stringify(record) + '\n'
    this.pending.push(line)
    this.pendingChars += line.length
    if (this.pendingChars >= WRITE_AT) this.startWrite()
    return DONE
  }

  private startWrite (): void {
    const data = this.pending.join('')
    this.pending = []
    this.pendingChars = 0
    this.writing = this.writing.then(async () => {
      if (this.writeError !== undefined) return
      try {
        if (this.fh === undefined) {
          await ensureDir(dirname(this.path))
          this.fh = await open(this.path, 'a', FILE_MODE)
        }
        await this.fh.write(data)
      } catch (err) {
        this.writeError = err
      }
    })
  }

  /**
   * Writes what is left and fdatasyncs. Throws when any line of the batch could not be written:
   * the caller then does not checkpoint past them, and they are dispatched again.
   */
  async flush (): Promise<void> {
    if (this.pending.length > 0) this.startWrite()
    await this.writing
    try {
      if (this.writeError !== undefined) throw this.writeError
      await this.fh?.datasync()
    } catch (err) {
      this.writeError = undefined
      await this.close()
      throw new Error(`cannot write ${this.path}: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    await this.writing
    const fh = this.fh
    this.fh = undefined
    await fh?.close().catch(() => {})
  }
}
