/**
 * Keeps one child process running: restarts it with exponential back-off when it dies, and stops
 * it on request (SIGTERM, then SIGKILL after a grace period). The back-off starts again from the
 * bottom once a child has stayed up for a while, so a crash loop is slowed and a rare crash is not.
 * As systemd does, it gives up on a child that exits with a code restarting cannot help
 * (RestartPreventExitStatus=) or that keeps failing fast (after StartLimitBurst= and
 * StartLimitIntervalSec=: 5 runs in a row that each ended within 10 s of their start; the
 * back-off between them is not counted, so a loaded machine reaches the limit as an idle one does).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import type { Logger } from 'pino'

export interface ChildSpec {
  /** For logs: `receive`, `process`. */
  name: string
  command: string
  args: string[]
  env?: NodeJS.ProcessEnv
  /** @default ['ignore', 'inherit', 'inherit']: children log to our stdout */
  stdio?: StdioOptions
}

/** systemd's own figures, where it has them (StartLimitBurst=5, StartLimitIntervalSec=10s). */
export const SUPERVISE_DEFAULTS = {
  minBackoffMs: 250,
  maxBackoffMs: 30_000,
  stableAfterMs: 10_000,
  stopTimeoutMs: 10_000,
  preventRestartExitCodes: [64, 78],
  startLimitBurst: 5,
  startLimitIntervalMs: 10_000,
} as const

export interface SuperviseOptions {
  logger: Logger
  /** First restart delay. @default 250 */
  minBackoffMs?: number
  /** @default 30000 */
  maxBackoffMs?: number
  /** A child that lived this long resets the back-off. @default 10000 */
  stableAfterMs?: number
  /** SIGKILL a child that has not exited this long after SIGTERM. @default 10000 */
  stopTimeoutMs?: number
  /** Exit codes after which the child is not restarted: bad usage, bad configuration. @default [64, 78] */
  preventRestartExitCodes?: number[]
  /** Give up after this many runs in a row that each ended within startLimitIntervalMs of their start. @default 5 */
  startLimitBurst?: number
  /** @default 10000 */
  startLimitIntervalMs?: number
  /** Called once when the supervisor gives up on the child, with its last exit. */
  onGiveUp?: (exit: ChildExit) => void
}

export interface ChildExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** Why it is not restarted. */
  reason: 'exit code' | 'start limit'
}

export interface SupervisedChild {
  readonly name: string
  /** The running child's pid, if one runs. */
  readonly pid: number | undefined
  /** How many times the child has been started. */
  readonly starts: number
  /** Stops restarting, sends SIGTERM, waits; resolves true when it exited by itself, false if killed. */
  stop (): Promise<boolean>
}

export function supervise (spec: ChildSpec, options: SuperviseOptions): SupervisedChild {
  const log = options.logger.child({ child: spec.name })
  const minBackoff = options.minBackoffMs ?? SUPERVISE_DEFAULTS.minBackoffMs
  const maxBackoff = options.maxBackoffMs ?? SUPERVISE_DEFAULTS.maxBackoffMs
  const stableAfter = options.stableAfterMs ?? SUPERVISE_DEFAULTS.stableAfterMs
  const stopTimeout = options.stopTimeoutMs ?? SUPERVISE_DEFAULTS.stopTimeoutMs
  const preventRestart = new Set<number>(options.preventRestartExitCodes ?? SUPERVISE_DEFAULTS.preventRestartExitCodes)
  const burst = options.startLimitBurst ?? SUPERVISE_DEFAULTS.startLimitBurst
  const interval = options.startLimitIntervalMs ?? SUPERVISE_DEFAULTS.startLimitIntervalMs
  let fastFailures = 0
  let child: ChildProcess | undefined
  let exited: Promise<void> = Promise.resolve()
  let stopping = false
  let failures = 0
  let starts = 0
  let restartTimer: NodeJS.Timeout | undefined

  const start = (): void => {
    restartTimer = undefined
    const startedAt = Date.now()
    const proc = spawn(spec.command, spec.args, { env: spec.env ?? process.env, stdio: spec.stdio ?? ['ignore', 'inherit', 'inherit'] })
    child = proc
    starts++
    exited = new Promise<void>((resolve) => {
      let done = false
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (done) return
        done = true
        child = undefined
        resolve()
        if (stopping) {
          log.info({ code, signal }, `${spec.name} stopped`)
          return
        }
        const now = Date.now()
        const giveUp = (reason: ChildExit['reason'], msg: string): void => {
          log.error({ code, signal, starts, reason }, msg)
          options.onGiveUp?.({ code, signal, reason })
        }
        if (code !== null && preventRestart.has(code)) {
          giveUp('exit code', `${spec.name} exited with code ${code} (bad usage or configuration): not restarted, restarting cannot help`)
          return
        }
        fastFailures = now - startedAt < interval ? fastFailures + 1 : 0
        if (fastFailures >= burst) {
          giveUp('start limit', `${spec.name} exited (${signal ?? `code ${code}`}) within ${interval / 1000} s of its start ${burst} times in a row: not restarted any more`)
          return
        }
        failures = now - startedAt >= stableAfter ? 1 : failures + 1
        const delay = Math.min(maxBackoff, minBackoff * 2 ** (failures - 1))
        log.error({ code, signal, restart_in_ms: delay, starts },
          `${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`)
        restartTimer = setTimeout(start, delay)
      }
      proc.once('exit', onExit)
      proc.once('error', (err) => {
        // spawn failed (no such executable): 'exit' may not follow, so treat it as one.
        log.error({ err }, `cannot start ${spec.name}`)
        onExit(null, null)
      })
    })
    if (proc.pid !== undefined) log.info({ child_pid: proc.pid, args: spec.args }, `${spec.name} started`)
  }

  start()

  return {
    name: spec.name,
    get pid () { return child?.pid },
    get starts () { return starts },
    async stop () {
      stopping = true
      if (restartTimer !== undefined) clearTimeout(restartTimer)
      const proc = child
      if (proc === undefined) return true
      proc.kill('SIGTERM')
      let killTimer: NodeJS.Timeout | undefined
      const timedOut = new Promise<boolean>((resolve) => {
        killTimer = setTimeout(() => resolve(true), stopTimeout)
      })
      const forced = await Promise.race([exited.then(() => false), timedOut])
      clearTimeout(killTimer)
      if (forced) {
        log.error(`${spec.name} did not stop within ${stopTimeout} ms: SIGKILL`)
        proc.kill('SIGKILL')
        await exited
      }
      return !forced
    },
  }
}
