/** The one pino logger: JSON lines on stdout, for journald. */
import { pino, type DestinationStream, type Logger } from 'pino'
import { isJournalStream, journalDestination } from './log-journal.js'
import { DEFAULT_LOG_LEVEL } from './log-levels.js'
import { maskJsonStrings } from './mask.js'

export { DEFAULT_LOG_LEVEL, LOG_LEVELS } from './log-levels.js'

/**
 * Every line is masked as it is written (phone numbers and URL credentials in its strings), so
 * that no message, error or stack can carry them, whoever wrote the text. Levels as words:
 * journald, jq and people read "warn", not 40. `destination` is for tests; the default is stdout
 * (with a journald priority prefix when stdout is the journal's stream), written synchronously.
 */
export function createLogger (level: string = process.env.CALLBACK_SPOOL_LOG_LEVEL ?? DEFAULT_LOG_LEVEL, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
    hooks: { streamWrite: maskJsonStrings },
  }
  if (destination !== undefined) return pino(options, destination)
  // Written as it is logged (as pino.destination() does by default): a line logged before a crash
  // or an exit is out, and no thread or exit hook is set up for a buffer.
  const stdout = pino.destination({ dest: 1, sync: true })
  return pino(options, isJournalStream(1) ? journalDestination(stdout) : stdout)
}
