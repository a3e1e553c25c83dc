/** The one pino logger: JSON lines on stdout, for journald. */
import { pino, type Logger } from 'pino'

export function createLogger (level: string = process.env.CALLBACK_SPOOL_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime })
}
