/** Loggers for tests: one that says nothing, one that keeps its lines to assert on. */
import { pino, type Logger } from 'pino'

export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}

/** A logger whose lines are collected as objects, to assert on what is logged. */
export function capturingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>) } })
  return { logger, lines }
}
