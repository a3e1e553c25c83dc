/**
 * journald and the log's levels. pino's levels are written as words (`"level":"warn"`), and when
 * stdout is the journal's own stream (JOURNAL_STREAM names its device and inode, as systemd.exec(5)
 * says to check) each line starts with its syslog priority, `<4>{...}`, as sd-daemon(3) describes:
 * journald takes the prefix off and keeps the priority (SyslogLevelPrefix=, on by default), so
 * `journalctl -p warning` selects by it and `journalctl -o cat` still gives pure JSON for jq.
 * Anywhere else (a terminal, a pipe, a file) the lines are JSON alone.
 */
import { fstatSync } from 'node:fs'
import type { DestinationStream } from 'pino'

/** syslog(3) priorities of pino's levels. */
const PRIORITY: Record<string, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3, fatal: 2 }

/** Whether file descriptor `fd` is the stream JOURNAL_STREAM names (`<device>:<inode>`, decimal). */
export function isJournalStream (fd = 1, env: NodeJS.ProcessEnv = process.env): boolean {
  const expected = env.JOURNAL_STREAM
  if (expected === undefined || expected === '') return false
  try {
    const st = fstatSync(fd, { bigint: true })
    return expected === `${st.dev}:${st.ino}`
  } catch {
    return false
  }
}

/** The line with its `<N>` priority prefix, from the level word pino put first. */
export function withPriority (line: string): string {
  const m = /^\{"level":"(\w+)"/.exec(line)
  return m === null ? line : `<${PRIORITY[m[1]!] ?? 6}>${line}`
}

/** Wraps a destination so that every line gets its priority prefix. */
export function journalDestination (destination: DestinationStream): DestinationStream {
  return { write: (line: string) => destination.write(withPriority(line)) }
}
