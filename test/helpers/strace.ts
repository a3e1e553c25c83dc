/** Reads an `strace -f -ttt -T -y` log into one event per system call, split calls joined. */
import { execFileSync } from 'node:child_process'
import type { TestContext } from 'node:test'

export interface SyscallEvent {
  pid: number
  /** Seconds since the epoch when the call began and when it returned. */
  start: number
  end: number
  /** The call as strace prints it, e.g. `fdatasync(20</x/spool/a.ndjson>) = 0`. */
  text: string
}

/** Why strace cannot be used here, or undefined when it can. */
export function straceMissing (): string | undefined {
  try {
    execFileSync('strace', ['-V'], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return (err as Error).message
  }
}

/** Skips `t` and returns true when strace cannot be used; `purpose` says what it was needed for. */
export function skipWithoutStrace (t: TestContext, purpose: string): boolean {
  const missing = straceMissing()
  if (missing === undefined) return false
  t.skip(`strace is needed ${purpose}: ${missing}`)
  return true
}

export function parseStrace (log: string): SyscallEvent[] {
  const events: SyscallEvent[] = []
  const unfinished = new Map<number, { start: number, text: string }>()
  for (const line of log.split('\n')) {
    const m = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line)
    if (m === null) continue
    const pid = Number(m[1])
    const ts = Number(m[2])
    const rest = m[3]!
    if (rest.endsWith('<unfinished ...>')) {
      unfinished.set(pid, { start: ts, text: rest.slice(0, -'<unfinished ...>'.length).trimEnd() })
      continue
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest)
    if (resumed !== null) {
      const begun = unfinished.get(pid)
      unfinished.delete(pid)
      if (begun !== undefined) events.push({ pid, start: begun.start, end: ts, text: begun.text + resumed[1]! })
      continue
    }
    const duration = /<(\d+\.\d+)>$/.exec(rest)
    events.push({ pid, start: ts, end: ts + (duration === null ? 0 : Number(duration[1])), text: rest })
  }
  return events
}
