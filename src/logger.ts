/** The one pino logger: JSON lines on stdout, for journald. */
import { pino, type Logger } from 'pino'
import { isJournalStream, journalDestination } from './log-journal.js'

/** pino's levels, and `silent`: what --log-level takes. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const

export function createLogger (level: string = process.env.CALLBACK_SPOOL_LOG_LEVEL ?? 'info'): Logger {
  // Levels as words: journald, jq and people read "warn", not 40.
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label: string) => ({ level: label }) } }
  if (!isJournalStream(1)) return pino(options)
  return pino(options, journalDestination(pino.destination({ dest: 1, sync: true })))
}
