/**
 * How a fatal error is told. A service command (receive, process, up) writes JSON log lines on
 * stdout, read by journald, a log file or jq: its fatal error is one more JSON line there (level
 * fatal, with its code), so that no plain text breaks the stream. A person still gets the one line
 * on stderr, except where stderr goes to the same place as that log (`>> log 2>&1`, or journald's
 * one stream for both) and it is not a terminal: there the JSON line says it all. The operator
 * tools (status, cat, ...) print their output on stdout, so their errors go to stderr only.
 */
import { fstatSync } from 'node:fs'
import { DEFAULT_LOG_LEVEL } from './log-levels.js'
import { maskUrlCredentials } from './mask.js'

export const SERVICE_COMMANDS: ReadonlySet<string> = new Set(['receive', 'process', 'up'])

/** Whether two file descriptors are the same open file, pipe or socket. */
function sameFile (a: number, b: number): boolean {
  try {
    const x = fstatSync(a, { bigint: true })
    const y = fstatSync(b, { bigint: true })
    return x.dev === y.dev && x.ino === y.ino
  } catch {
    return false
  }
}

export interface FatalReport {
  /** One line: what is wrong and what to do. */
  message: string
  /** The error's code (SPOOL_ERR_...), or undefined for an unexpected one. */
  code: string | undefined
  exitCode: number
  /** Kept in the JSON line of an unexpected error (its stack), never printed to a terminal unasked. */
  err?: unknown
}

export async function reportFatal (report: FatalReport, command: string | undefined, logLevel: string | undefined): Promise<void> {
  let logged = false
  if (command !== undefined && SERVICE_COMMANDS.has(command)) {
    // pino is loaded by the service commands only: the operator tools never log.
    const { createLogger } = await import('./logger.js')
    const logger = createLogger(logLevel ?? DEFAULT_LOG_LEVEL)
    if (logger.isLevelEnabled('fatal')) {
      logger.fatal({ code: report.code, exit_code: report.exitCode, ...(report.err === undefined ? {} : { err: report.err }) }, report.message)
      logged = true
    }
  }
  if (logged && process.stderr.isTTY !== true && sameFile(1, 2)) return
  // A message may quote an option's value: an --on URL's credentials are not printed.
  process.stderr.write(`callback-spool: ${maskUrlCredentials(report.message)}\n`)
}
