/**
 * The commander program: one subcommand per verb, each a thin call into a module.
 * createProgram() builds it without parsing, so tests can drive it with an explicit argv.
 */
import { Command, Option } from 'commander'
import type { Logger } from 'pino'
import { createLogger } from './logger.js'
import { ConfigError } from './errors.js'
import { checkAll, installConfig, loadConfigFile, setOptionsValidator } from './config.js'
import { collectConfig, configAsJson, configAsText } from './config-report.js'
import { RECEIVE_DEFAULTS, startReceiver, type ReceiveOptions } from './receiver/run.js'
import { startUp } from './up/run.js'
import { parseBytes, parseDuration, parsePort, parsePositiveInt } from './units.js'

export interface ProgramContext {
  logger?: Logger
  /** Called with the running service so the caller can wire signals; defaults to process signals. */
  onSignal?: (handler: (signal: NodeJS.Signals) => void) => void
  /** Where commands print their reports; defaults to process.stdout. */
  stdout?: (text: string) => void
}

/** `--name <value>` that also reads CALLBACK_SPOOL_<NAME>; flags win. */
function envOption (flags: string, description: string, envName: string): Option {
  return new Option(flags, description).env(`CALLBACK_SPOOL_${envName}`)
}

/** Checks and converts the receive command's raw options (flags, env or config file). */
function receiveOptionsFrom (opts: Record<string, string>): ReceiveOptions {
  return checkAll<ReceiveOptions>({
    host: () => opts.host,
    port: () => parsePort('--port', opts.port!),
    dataDir: () => opts.dataDir!,
    maxBodyBytes: () => parseBytes('--max-body', opts.maxBody!),
    durability: () => opts.durability as 'fsync' | 'os',
    rotateBytes: () => parseBytes('--rotate-bytes', opts.rotateBytes!),
    rotateAgeMs: () => parseDuration('--rotate-age', opts.rotateAge!),
    requestTimeoutMs: () => parseDuration('--request-timeout', opts.requestTimeout!),
    maxConnections: () => parsePositiveInt('--max-connections', opts.maxConnections!),
    adminPort: () => opts.adminPort === undefined ? undefined : parsePort('--admin-port', opts.adminPort),
    adminHost: () => opts.adminHost,
    minFreeBytes: () => parseBytes('--min-free', opts.minFree!),
  })
}

function defaultOnSignal (handler: (signal: NodeJS.Signals) => void): void {
  process.once('SIGTERM', handler)
  process.once('SIGINT', handler)
}

export function createProgram (context: ProgramContext = {}): Command {
  const program = new Command('callback-spool')
    .description('Receive SMS provider callbacks durably into an NDJSON spool, and process them later.')
    .option('--verbose', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
  const onSignal = context.onSignal ?? defaultOnSignal

  program.command('receive')
    .description('run the HTTP receiver: append each callback to the spool, answer an empty 200 once it is durable')
    .addOption(envOption('--host <host>', 'address to listen on (default: all)', 'HOST'))
    .addOption(envOption('--port <port>', 'port to listen on', 'PORT').default(String(RECEIVE_DEFAULTS.port)))
    .addOption(envOption('--data-dir <dir>', 'data directory', 'DATA_DIR').default(RECEIVE_DEFAULTS.dataDir))
    .addOption(envOption('--max-body <size>', 'largest body accepted (65536, 64KiB, 1MiB)', 'MAX_BODY').default('64KiB'))
    .addOption(envOption('--durability <mode>', 'fsync: answer once the line is on disk; os: once the OS has it', 'DURABILITY')
      .choices(['fsync', 'os']).default('fsync'))
    .addOption(envOption('--rotate-bytes <size>', 'seal a segment at this size', 'ROTATE_BYTES').default('64MiB'))
    .addOption(envOption('--rotate-age <duration>', 'seal a segment at this age', 'ROTATE_AGE').default('1h'))
    .addOption(envOption('--request-timeout <duration>', 'close a request whose headers and body take longer', 'REQUEST_TIMEOUT').default('10s'))
    .addOption(envOption('--max-connections <n>', 'refuse connections beyond this many', 'MAX_CONNECTIONS').default(String(RECEIVE_DEFAULTS.maxConnections)))
    .addOption(envOption('--admin-port <port>', 'serve /healthz, /readyz and /metrics on this port (default: off)', 'ADMIN_PORT'))
    .addOption(envOption('--admin-host <host>', 'address of the admin port', 'ADMIN_HOST').default(RECEIVE_DEFAULTS.adminHost))
    .addOption(envOption('--min-free <size>', '/readyz fails when free disk is under this', 'MIN_FREE').default('1GiB'))
    .addHelpText('after', '\nExample:\n  callback-spool receive --port 8080 --data-dir /var/lib/callback-spool\n')
    .action(async (opts: Record<string, string>) => {
      const logger = context.logger ?? createLogger()
      const running = await startReceiver(receiveOptionsFrom(opts), logger)
      await new Promise<void>((resolve) => {
        onSignal((signal) => {
          logger.info({ signal }, 'signal received')
          running.stop().then(resolve, (err: unknown) => {
            logger.error({ err }, 'error while stopping')
            process.exitCode = 1
            resolve()
          })
        })
      })
    })

  program.command('up')
    .description('run the receiver and a processor following the spool, as two child processes restarted if they die')
    .addOption(envOption('--host <host>', 'receiver: address to listen on (default: all)', 'HOST'))
    .addOption(envOption('--port <port>', 'receiver: port to listen on', 'PORT').default(String(RECEIVE_DEFAULTS.port)))
    .addOption(envOption('--data-dir <dir>', 'data directory of both', 'DATA_DIR').default(RECEIVE_DEFAULTS.dataDir))
    .addHelpText('after', '\nBoth children log JSON lines to this stdout; SIGTERM or Ctrl-C stops both.\n\nExample:\n  callback-spool up --port 8080 --data-dir data\n')
    .action(async (opts: { host?: string, port: string, dataDir: string }) => {
      const logger = context.logger ?? createLogger()
      parsePort('--port', opts.port)
      const running = startUp({ ...opts, configPath: program.opts().config as string | undefined }, logger)
      await new Promise<void>((resolve) => {
        onSignal((signal) => {
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

  program.command('config')
    .description('print the effective options of each command (flags aside), from env, --config file and defaults; secrets masked')
    .option('--json', 'print JSON, keyed by command, in the shape of a config file')
    .addHelpText('after', '\nExample:\n  CALLBACK_SPOOL_PORT=9000 callback-spool --config /etc/callback-spool.json config\n')
    .action(async (opts: { json?: boolean }) => {
      const path = program.opts().config as string | undefined
      const values = path === undefined ? {} : await loadConfigFile(path, program)
      const config = collectConfig(program, values)
      const write = context.stdout ?? ((text: string) => { process.stdout.write(text) })
      write(opts.json === true ? configAsJson(config) : configAsText(config, path))
    })

  setOptionsValidator(program.commands.find((c) => c.name() === 'receive')!, receiveOptionsFrom)
  // Last: it gives every option of every command above its CALLBACK_SPOOL_* variable.
  installConfig(program)
  return program
}

export { ConfigError }
