/**
 * What the operator tools share: the --data-dir option, where they print, how they ask, and how
 * they read a time given as an ISO date or as a duration ago.
 */
import { CancelledError, ConfigError, LockHeldError, UsageError } from '../errors.js'
import { readline } from '../lazy-builtin.js'
import { parseDuration } from '../units.js'
import { describeHolder, findHolder, tryAcquireLock, type SpoolLock } from '../spool/lock.js'
import { existingDataDir } from '../spool/data-dir.js'
import type { DataLayout } from '../spool/layout.js'

/** Where a tool prints, and what it may ask. Tests pass their own; the CLI uses the process's. */
export interface ToolIO {
  /** Writes to stdout; resolves once the text is handed over (waits for drain on a pipe). */
  write: (text: string) => Promise<void> | void
  /** One line for stderr: a warning beside the output. */
  warn: (line: string) => void
  /** Whether stdout is a terminal (colours, human layout). */
  stdoutIsTTY: boolean
  /** Whether stdin is a terminal (may a tool ask a question?). */
  stdinIsTTY: boolean
  /** Asks a yes/no question on the terminal. */
  confirm: (question: string) => Promise<boolean>
  /** Set once stdout is gone (EPIPE: `cat | head`); long outputs stop quietly. */
  closed: () => boolean
  /** Called with the stop handler for SIGINT and SIGTERM (`cat --follow`). */
  onSignal: (handler: (signal: NodeJS.Signals) => void) => void
}

/** The process's stdout and stdin; EPIPE on stdout ends the output quietly. */
export function processIO (onSignal: ToolIO['onSignal']): ToolIO {
  let closed = false
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') closed = true
    else throw err
  })
  return {
    write: (text) => {
      if (closed) return
      if (process.stdout.write(text)) return
      return new Promise<void>((resolve) => {
        const done = (): void => { process.stdout.off('drain', done); process.stdout.off('error', done); resolve() }
        process.stdout.once('drain', done)
        process.stdout.once('error', done)
      })
    },
    warn: (line) => { process.stderr.write(`callback-spool: ${line}\n`) },
    stdoutIsTTY: process.stdout.isTTY === true,
    stdinIsTTY: process.stdin.isTTY === true,
    confirm: async (question) => {
      const rl = readline().createInterface({ input: process.stdin, output: process.stderr })
      try {
        return /^y(es)?$/i.test((await rl.question(question)).trim())
      } finally {
        rl.close()
      }
    },
    closed: () => closed,
    onSignal,
  }
}

const AGO_RE = /^(\d+(\.\d+)?(ms|s|m|h|d|w))+$/

/**
 * `2026-11-27T10:00:00Z` (any form Date.parse reads) or a duration meaning that long ago (`2h`,
 * `30m`, `7d`). A bare number is refused: a year or seconds would both be guesses.
 */
export function parseTimeArg (name: string, value: string, now = Date.now()): number {
  const text = value.trim()
  if (AGO_RE.test(text)) return now - parseDuration(name, text)
  const t = /^\d+$/.test(text) ? Number.NaN : Date.parse(text)
  if (Number.isNaN(t)) {
    throw new ConfigError(`Expected \`${name}\` to be a time like 2026-11-27T10:00:00Z or a duration ago like 2h or 7d, got \`${value}\``)
  }
  return t
}

/** `3 s ago`, `2 h ago`: an age people read at a glance. */
export function formatAge (ms: number): string {
  const s = Math.max(0, ms) / 1000
  if (s < 60) return `${Math.round(s)} s`
  if (s < 3600) return `${Math.round(s / 60)} min`
  if (s < 86_400 * 2) return `${(s / 3600).toFixed(1)} h`
  return `${(s / 86_400).toFixed(1)} d`
}

/**
 * Takes the processor lock for a tool that rewrites the processor's state (the checkpoint, the
 * dead letters), so that no pass runs meanwhile; refuses in one line (exit 75) when one runs.
 */
export async function takeProcessorLock (layout: DataLayout, doing: string): Promise<SpoolLock> {
  const root = await existingDataDir(layout)
  const lock = await tryAcquireLock(layout, 'processor')
  if (lock !== undefined) return lock
  const holder = describeHolder(await findHolder(layout, 'processor'), layout.locks.processor)
  throw new LockHeldError('processor', root, holder, doing)
}

/**
 * What an irreversible command (`purge`, `dead purge`) needs before it deletes: `--yes`, or a yes
 * typed at the terminal. Off a terminal without `--yes` it refuses (exit 64), as replay does, so
 * that a script or a cron line never deletes by accident. `what` completes "this will ...".
 */
export async function confirmIrreversible (io: ToolIO, yes: boolean, what: string, command: string): Promise<void> {
  if (yes) return
  if (!io.stdinIsTTY) throw new UsageError(`${command} would ${what}, which cannot be undone; pass --yes to confirm (stdin is not a terminal)`)
  if (!await io.confirm(`This will ${what}; it cannot be undone. Go ahead? [y/N] `)) {
    throw new CancelledError(`${command} cancelled; nothing was deleted`)
  }
}
