/**
 * The commander program: one subcommand per verb, each a thin call into a module.
 * createProgram() builds it without parsing, so tests can drive it with an explicit argv.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Command, Option } from 'commander'
import type { Logger } from 'pino'
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from './log-levels.js'
import { dataDirOption, ENV_PREFIX, envOption, installConfig, setOptionsValidator, validatedOptions } from './config.js'
import { registerConfigCommand } from './config-report.js'
import { addProcessCommand } from './processor/command.js'
import { RECEIVE_DEFAULTS } from './receiver/defaults.js'
import { signatureOptions } from './providers/signature-options.js'
import { registerUpCommand } from './up/command.js'
import type { ToolIO } from './tools/common.js'
import type { ReceiveOptions } from './receiver/run.js'
import { addCatCommand, addDbCommand, addDeadCommand, addPurgeCommand, addReplayCommand, addStatusCommand, addTraceCommand, addVerifyCommand } from './tools/commands.js'
import { PACKAGE_ROOT } from './package-root.js'
import { formatDuration, formatSize } from './units.js'

export interface ProgramContext {
  logger?: Logger
  /** Called with the running service so the caller can wire signals; defaults to process signals. */
  onSignal?: (handler: (signal: NodeJS.Signals) => void) => void
  /** Where commands print their reports; defaults to process.stdout. */
  stdout?: (text: string) => void
  /** Where the operator tools (status, cat, verify, replay, dead) print and ask; defaults to the process's. */
  toolIO?: ToolIO
  /**
   * The command line the program is made for (process.argv). When it names a command that needs
   * no other and no config file is given, only that command is defined: a start builds the
   * options of what it runs, not of every command (start-up: bench/NOTES.md). Without it, or for
   * help, `up`, `config` or a config file (whose keys are checked against every command), all are.
   */
  argv?: readonly string[]
}

/** Commands whose definition involves no other command's (`up` copies receive's and process's options; `config` lists them all). */
const STANDALONE = new Set(['receive', 'process', 'status', 'cat', 'verify', 'replay', 'dead', 'purge', 'db', 'trace'])

/**
 * The command `argv` runs when it can be defined alone, from the program's own options (those
 * with a value take the next word): undefined for help, an option it does not know, or a config
 * file (--config anywhere, as commander reads program options after the command too, or
 * CALLBACK_SPOOL_CONFIG).
 */
export function standaloneCommand (argv: readonly string[], program: Command, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if ((env[`${ENV_PREFIX}CONFIG`] ?? '') !== '' || argv.some((arg) => arg === '--config' || arg.startsWith('--config='))) return undefined
  for (let i = 2; i < argv.length; i++) {
    const arg = argv[i]!
    if (!arg.startsWith('-')) return STANDALONE.has(arg) ? arg : undefined
    const option = program.options.find((o) => o.long === arg.split('=')[0] || o.short === arg)
    if (option === undefined || option.optional || (option.long === '--help' || option.long === '--version')) return undefined
    if (option.required && !arg.includes('=')) i++
  }
  return undefined
}

/** `--provider-path`, repeatable; each value (a flag, or a line of the variable or config value) is one binding. */
function collectPathSpecs (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value]
}

/** The options of the providers' signature schemes, from their profiles, in the order listed there. */
function signatureOptionsOf (): Option[] {
  return signatureOptions().map(({ option, description, choices, default: fallback }) => {
    if (choices === undefined) return envOption(`${option} <${option.endsWith('-key') ? 'key' : 'secret'}>`, `${description}; 401 when missing or wrong`)
    return envOption(`${option} <method>`, description).choices(choices).default(fallback)
  })
}

/** The receiver's options by theme in its --help, as `journalctl --help` groups its own. */
const RECEIVE_HELP_GROUPS: Record<string, string[]> = {
  'Listening:': ['--host', '--port', '--max-body', '--request-timeout', '--max-connections', '--max-connections-per-address', '--first-byte-timeout'],
  'Durability:': ['--data-dir', '--durability'],
  'Rotation:': ['--rotate-bytes', '--rotate-age'],
  'Admin port (health and metrics):': ['--admin-port', '--admin-host', '--min-free'],
  'Access control:': ['--token', '--basic-auth', '--basic-auth-file', '--allow', '--trust-proxy', '--public-url', '--provider-path'],
  'Provider signatures (a request of a provider whose secret is set must carry its valid signature):': signatureOptions().map((o) => o.option),
}

function groupOptionsInHelp (command: Command, groups: Record<string, string[]>): void {
  for (const [heading, flags] of Object.entries(groups)) {
    for (const option of command.options) if (option.long !== undefined && flags.includes(option.long)) option.helpGroup(heading)
  }
}

/** This package's version, from its package.json. */
function packageVersion (): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version
}

let stdoutGuarded = false

/**
 * --help and --version on stdout. A reader gone (`callback-spool process --help | head`) ends
 * the output quietly, as it does the tools' (cat(1) dies of SIGPIPE there; Node ignores it and
 * would throw EPIPE).
 */
function writeOut (text: string): void {
  if (!stdoutGuarded) {
    stdoutGuarded = true
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err
    })
  }
  process.stdout.write(text)
}

function defaultOnSignal (handler: (signal: NodeJS.Signals) => void): void {
  process.once('SIGTERM', handler)
  process.once('SIGINT', handler)
}

/** `receive`: the HTTP receiver. */
function addReceiveCommand (program: Command, context: ProgramContext, onSignal: (handler: (signal: NodeJS.Signals) => void) => void): void {
  const logLevel = (): string => program.opts().logLevel as string
  const receive = program.command('receive')
    .description('run the HTTP receiver: append each callback to the spool, answer an empty 200 once it is durable')
    .addOption(envOption('--host <host>', 'address to listen on (default: all)'))
    .addOption(envOption('--port <port>', 'port to listen on (0: any free port, logged)').default(String(RECEIVE_DEFAULTS.port)))
    .addOption(dataDirOption())
    .addOption(envOption('--max-body <size>', 'largest body accepted (65536, 64KiB, 1MiB; at most 64MiB)').default(formatSize(RECEIVE_DEFAULTS.maxBodyBytes)))
    .addOption(envOption('--durability <mode>', 'fsync: answer once the line is on disk; os: once the OS has it')
      .choices(['fsync', 'os']).default(RECEIVE_DEFAULTS.durability))
    .addOption(envOption('--rotate-bytes <size>', 'seal a segment at this size').default(formatSize(RECEIVE_DEFAULTS.rotateBytes)))
    .addOption(envOption('--rotate-age <duration>', 'seal a segment at this age').default(formatDuration(RECEIVE_DEFAULTS.rotateAgeMs)))
    .addOption(envOption('--request-timeout <duration>', 'close a request whose headers and body take longer (at most 1h)').default(formatDuration(RECEIVE_DEFAULTS.requestTimeoutMs)))
    .addOption(envOption('--max-connections <n>', 'connections open at once; beyond, close the longest-idle one (or refuse if none is idle)')
      .default(String(RECEIVE_DEFAULTS.maxConnections)))
    .addOption(envOption('--max-connections-per-address <n>', 'the same, per peer address (default: as --max-connections)'))
    .addOption(envOption('--first-byte-timeout <duration>', 'close a connection that has sent nothing for this long')
      .default(formatDuration(RECEIVE_DEFAULTS.firstByteTimeoutMs)))
    .addOption(envOption('--admin-port <port>', 'serve /healthz, /readyz and /metrics on this port (default: off)'))
    .addOption(envOption('--admin-host <host>', 'address of the admin port').default(RECEIVE_DEFAULTS.adminHost))
    .addOption(envOption('--min-free <size>', '/readyz fails when free disk is under this').default(formatSize(RECEIVE_DEFAULTS.minFreeBytes)))
    // Access control (README "Security"). Secrets are never printed (`config` masks them).
    .addOption(envOption('--token <secret>', 'accept only /<secret>/... paths or ?token=<secret>; anything else 404'))
    .addOption(envOption('--basic-auth <user:password>', 'require HTTP Basic authentication'))
    .addOption(envOption('--basic-auth-file <path>', 'read user:password from this file'))
    .addOption(envOption('--allow <cidrs>', 'accept only these client addresses (IPv4/IPv6 CIDRs, comma-separated); others 403'))
    .addOption(envOption('--trust-proxy <cidrs>', 'believe X-Forwarded-For only from these proxies'))
    .addOption(envOption('--public-url <url>', 'scheme and host the provider calls (https://sms.example.com), for signatures'))
    .addOption(envOption('--provider-path <prefix=provider>', 'requests whose path starts with PREFIX are PROVIDER\'s, whatever their shape (e.g. /twilio/=twilio): its signature, its answer; repeatable')
      .argParser(collectPathSpecs))
  for (const option of signatureOptionsOf()) receive.addOption(option)
  receive.addHelpText('after', '\nExample:\n  callback-spool receive --port 8080 --data-dir /var/lib/callback-spool\n')
    .action(async (_opts: Record<string, string>, self: Command) => {
      // Listen for signals before anything else: a SIGTERM that comes as soon as the "listening"
      // line is out (systemd, `up`, a test) must stop it cleanly, not kill it.
      const signalled = new Promise<NodeJS.Signals>((resolve) => onSignal(resolve))
      // The receiver's implementation is loaded only by the command that runs it.
      const [{ startReceiver }, { createLogger }] = await Promise.all([import('./receiver/run.js'), import('./logger.js')])
      const logger = context.logger ?? createLogger(logLevel())
      const running = await startReceiver(validatedOptions<ReceiveOptions>(self), logger)
      const signal = await signalled
      logger.info({ signal }, 'signal received')
      await running.stop().catch((err: unknown) => {
        logger.error({ err }, 'error while stopping')
        process.exitCode = 1
      })
    })

  setOptionsValidator(receive, async (opts: Record<string, string>) => (await import('./receiver/options.js')).receiveOptionsFrom(opts))
  groupOptionsInHelp(receive, RECEIVE_HELP_GROUPS)
}

export function createProgram (context: ProgramContext = {}): Command {
  const program = new Command('callback-spool')
    .description('Receive SMS provider callbacks durably into an NDJSON spool, and process them later.')
    .version(packageVersion(), '-V, --version', 'print the version and exit')
    .option('--verbose', 'print stack traces with errors')
    .addOption(new Option('--log-level <level>', 'log lines at this level and above (receive, process, up)').choices(LOG_LEVELS).default(DEFAULT_LOG_LEVEL))
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut })
    // Every command's --help lists --log-level, --config and --verbose too.
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', `
Examples:
  callback-spool up --data-dir data                    # try it: receiver and processor together
  callback-spool receive --port 8080 --data-dir /var/lib/callback-spool
  callback-spool process --follow --data-dir /var/lib/callback-spool --log-level debug
  callback-spool status --data-dir /var/lib/callback-spool
  callback-spool <command> --help                      # each command's options and examples
`)
  const onSignal = context.onSignal ?? defaultOnSignal
  const logLevel = (): string => program.opts().logLevel as string

  const toolIO = async (): Promise<ToolIO> => context.toolIO ?? (await import('./tools/common.js')).processIO(onSignal)
  // In the order --help lists them.
  const commands: Array<[string, () => void]> = [
    ['receive', () => addReceiveCommand(program, context, onSignal)],
    ['process', () => addProcessCommand(program, { logger: context.logger, onSignal })],
    ['up', () => registerUpCommand(program, { makeLogger: async () => context.logger ?? (await import('./logger.js')).createLogger(logLevel()), onSignal, defaults: RECEIVE_DEFAULTS })],
    ['config', () => registerConfigCommand(program, context.stdout)],
    ['status', () => addStatusCommand(program, toolIO)],
    ['cat', () => addCatCommand(program, toolIO)],
    ['verify', () => addVerifyCommand(program, toolIO)],
    ['replay', () => addReplayCommand(program, toolIO)],
    ['dead', () => addDeadCommand(program, toolIO)],
    ['purge', () => addPurgeCommand(program, toolIO)],
    ['db', () => addDbCommand(program, toolIO)],
    ['trace', () => addTraceCommand(program, toolIO)],
  ]
  const only = context.argv === undefined ? undefined : standaloneCommand(context.argv, program)
  for (const [name, add] of commands) if (only === undefined || name === only) add()
  // Last: it gives every option of every command above its CALLBACK_SPOOL_* variable.
  installConfig(program)
  return program
}
