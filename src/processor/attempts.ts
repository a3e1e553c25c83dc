/**
 * Failed passes per record id, kept across passes in `<data-dir>/state/attempts.json`
 * (`{"<id>": {"attempts": n, "last_error": "...", "first_failed_at": "<iso>", "last_failed_at": "<iso>"}}`),
 * so that a record that keeps failing is dead-lettered once it has failed in `--max-attempts` passes
 * and for `--dead-after` since its first failure, instead of blocking for ever.
 */
import { ensureDir, readFileNoFollow, writeFileDurably } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'
import { maskJsonStrings } from '../mask.js'

export interface AttemptEntry {
  attempts: number
  last_error: string
  /** Absent in files written before it was kept: last_failed_at stands in. */
  first_failed_at?: string
  last_failed_at: string
}

export type Attempts = Record<string, AttemptEntry>

/** The attempt counts; an unreadable file counts as empty (it only delays a dead letter). */
export async function loadAttempts (layout: DataLayout): Promise<Attempts> {
  try {
    const value = JSON.parse(await readFileNoFollow(layout.attempts, 'utf8')) as unknown
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.assign(Object.create(null) as Attempts, value)
    }
  } catch {}
  return Object.create(null) as Attempts
}

/** The counts of one pass: loaded at its start, changed as records fail or settle, saved by each commit. */
export class AttemptCounts {
  private readonly counts: Attempts
  /** Most passes have no failing record: settling a record then skips the lookup by id. */
  private any: boolean
  private dirty = false

  private constructor (counts: Attempts) {
    this.counts = counts
    this.any = Object.keys(counts).length > 0
  }

  static async load (layout: DataLayout): Promise<AttemptCounts> {
    return new AttemptCounts(await loadAttempts(layout))
  }

  /** The failed passes counted so far for `id`. */
  of (id: string): number {
    return this.any ? this.counts[id]?.attempts ?? 0 : 0
  }

  /** One more failed pass for `id`; returns its entry. */
  countFailure (id: string, error: string, now = new Date()): Readonly<AttemptEntry> {
    const entry = this.counts[id] ?? { attempts: 0, last_error: '', first_failed_at: now.toISOString(), last_failed_at: '' }
    entry.attempts++
    entry.last_error = error
    entry.first_failed_at ??= entry.last_failed_at === '' ? now.toISOString() : entry.last_failed_at
    entry.last_failed_at = now.toISOString()
    this.counts[id] = entry
    this.dirty = true
    this.any = true
    return entry
  }

  /** A record that is done or dead-lettered has no more attempts to count. */
  forget (id: string): void {
    if (this.any && this.counts[id] !== undefined) {
      delete this.counts[id]
      this.dirty = true
    }
  }

  /**
   * The file's content now, if it changed since the last call: a commit takes it at once, and saves
   * it while the counts may change. A last error is a handler's own text: its numbers and URL
   * credentials are masked.
   */
  takeText (): string | undefined {
    if (!this.dirty) return undefined
    this.dirty = false
    return maskJsonStrings(JSON.stringify(this.counts)) + '\n'
  }
}

export async function saveAttemptsText (layout: DataLayout, text: string): Promise<void> {
  await ensureDir(layout.state)
  await writeFileDurably(layout.attempts, text)
}
