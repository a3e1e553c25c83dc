/** The `up` subcommand: its options, and the wiring of signals to stopping both children. */
import type { Command } from 'commander'
import { dataDirOption, envOption } from '../config.js'
import type { Logger } from 'pino'
import { parsePort } from '../units.js'
import { ensureDir } from '../spool/fsutil.js'

export interface UpCommandDeps {
  makeLogger: () => Logger
  onSignal: (handler: (signal: NodeJS.Signals) => void) => void
  defaults: { port: number }
}

export function registerUpCommand (program: Command, deps: UpCommandDeps): Command {
  return program.command('up')
    .description('run the receiver and a processor following the spool, as two child processes restarted if they die')
    .addOption(envOption('--host <host>', 'receiver: address to listen on (default: all)'))
    .addOption(envOption('--port <port>', 'receiver: port to listen on').default(String(deps.defaults.port)))
    .addOption(dataDirOption('data directory of both'))
    .addHelpText('after', '\nBoth children log JSON lines to this stdout; SIGTERM or Ctrl-C stops both.\n\nExample:\n  callback-spool up --port 8080 --data-dir data\n')
    .action(async (opts: { host?: string, port: string, dataDir: string }) => {
      const logger = deps.makeLogger()
      parsePort('--port', opts.port)
      // `up` runs the receiver, which alone creates a data dir: create it before the processor
      // starts beside it, or the processor would refuse it (66) until the receiver had made it.
      await ensureDir(opts.dataDir)
      // The children read --log-level from their environment, as they read every other option.
      if (program.getOptionValueSource('logLevel') !== 'default') process.env.CALLBACK_SPOOL_LOG_LEVEL = program.opts().logLevel as string
      const { startUp } = await import('./run.js')
      const running = startUp({ ...opts, configPath: program.opts().config as string | undefined }, logger)
      await new Promise<void>((resolve) => {
        deps.onSignal((signal) => {
          logger.info({ signal }, 'signal received')
          running.stop().then((clean) => {
            if (!clean) process.exitCode = 1
            resolve()
          }, (err: unknown) => {
            logger.error({ err }, 'error while stopping')
            process.exitCode = 1
            resolve()
          })
        })
      })
    })
}
