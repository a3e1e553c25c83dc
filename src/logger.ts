/** The one pino logger: JSON lines on stdout, for journald. */
import { pino, type DestinationStream, type Logger } from 'pino'
import { maskJsonStrings } from './mask.js'

/**
 * Every line is masked as it is written (phone numbers and URL credentials in its strings), so
 * that no message, error or stack can carry them, whoever wrote the text. `destination` is for
 * tests; the default is stdout.
 */
export function createLogger (level: string = process.env.CALLBACK_SPOOL_LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime, hooks: { streamWrite: maskJsonStrings } }
  return destination === undefined ? pino(options) : pino(options, destination)
}
