/**
 * Failed passes per record id, kept across passes in `<data-dir>/state/attempts.json`
 * (`{"<id>": {"attempts": n, "last_error": "...", "last_failed_at": "<iso>"}}`), so that a record
 * that keeps failing is dead-lettered after `--max-attempts` passes instead of blocking for ever.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDir, writeFileDurably } from '../spool/fsutil.js'
import { dataLayout } from '../spool/layout.js'
import { maskJsonStrings } from '../mask.js'

export interface AttemptEntry {
  attempts: number
  last_error: string
  last_failed_at: string
}

export type Attempts = Record<string, AttemptEntry>

export function attemptsPath (dataDir: string): string {
  return join(dataLayout(dataDir).state, 'attempts.json')
}

/** The attempt counts; an unreadable file counts as empty (it only delays a dead letter). */
export async function loadAttempts (dataDir: string): Promise<Attempts> {
  try {
    const value = JSON.parse(await readFile(attemptsPath(dataDir), 'utf8')) as unknown
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return Object.assign(Object.create(null) as Attempts, value)
    }
  } catch {}
  return Object.create(null) as Attempts
}

/**
 * The file's content now: a commit takes it at once, and saves it while the next batch may change
 * the counts. A last error is a handler's own text: its numbers and URL credentials are masked.
 */
export function attemptsFileText (attempts: Attempts): string {
  return maskJsonStrings(JSON.stringify(attempts)) + '\n'
}

export async function saveAttemptsText (dataDir: string, text: string): Promise<void> {
  await ensureDir(dataLayout(dataDir).state)
  await writeFileDurably(attemptsPath(dataDir), text)
}
