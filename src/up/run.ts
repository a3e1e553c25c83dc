/**
 * `callback-spool up`: the receiver and a processor following the spool, as two child processes
 * of this one, each restarted if it dies, both stopped together. For trying it out and for small
 * installs; production runs them as two systemd units (contrib/).
 */
import { join } from 'node:path'
import type { Logger } from 'pino'
import { supervise, type ChildExit, type SuperviseOptions, type SupervisedChild } from './supervise.js'
import { PACKAGE_ROOT } from '../package-root.js'

export interface UpOptions {
  dataDir: string
  port?: string
  host?: string
  /** Passed on to both children, so they read the same file. */
  configPath?: string
  /** More arguments for each child: the flags of `receive` and `process` given to `up`. */
  receiveArgs?: string[]
  processArgs?: string[]
  /** The CLI the children run. @default this package's bin/callback-spool.js */
  cliPath?: string
  supervise?: Omit<SuperviseOptions, 'logger' | 'onGiveUp'>
}

export interface RunningUp {
  children: SupervisedChild[]
  /**
   * Resolves, with the exit code `up` should end with, once a child was given up on (it exited 64
   * or 78, or hit the start limit) and the other one was stopped.
   */
  gaveUp: Promise<number>
  /** SIGTERM to both, wait; resolves true when both exited by themselves. */
  stop (): Promise<boolean>
}

const DEFAULT_CLI = join(PACKAGE_ROOT, 'bin', 'callback-spool.js')

/** The two command lines `up` runs. */
export function upChildArgs (options: UpOptions): { receive: string[], process: string[] } {
  const common = options.configPath === undefined ? [] : ['--config', options.configPath]
  const receive = [...common, 'receive', '--data-dir', options.dataDir]
  if (options.port !== undefined) receive.push('--port', options.port)
  if (options.host !== undefined) receive.push('--host', options.host)
  receive.push(...options.receiveArgs ?? [])
  return { receive, process: [...common, 'process', '--follow', '--data-dir', options.dataDir, ...options.processArgs ?? []] }
}

export function startUp (options: UpOptions, logger: Logger): RunningUp {
  const log = logger.child({ component: 'up' })
  const cli = options.cliPath ?? DEFAULT_CLI
  const args = upChildArgs(options)
  let onGiveUp: (exit: ChildExit) => void = () => {}
  const gaveUpOn = new Promise<ChildExit>((resolve) => { onGiveUp = resolve })
  const children = (['receive', 'process'] as const).map((name) => supervise({
    name,
    command: process.execPath,
    args: [cli, ...args[name]],
  }, { ...options.supervise, logger: log, onGiveUp: (exit) => onGiveUp(exit) }))
  const stop = async (): Promise<boolean> => {
    log.info('stopping the receiver and the processor')
    const clean = await Promise.all(children.map((c) => c.stop()))
    return clean.every(Boolean)
  }
  const gaveUp = gaveUpOn.then(async (exit) => {
    log.error('a child cannot run: stopping the other one and exiting')
    await stop()
    // The child's own code says why (69 port taken, 78 bad configuration); a signal or a 0 is a failure all the same.
    return exit.code === null || exit.code === 0 ? 1 : exit.code
  })
  return { children, gaveUp, stop }
}
