/** The `up` subcommand: its options, and the wiring of signals to stopping both children. */
import { Option, type Command } from 'commander'
import { dataDirOption, envOption, setOptionsValidator } from '../config.js'
import type { Logger } from 'pino'
import { parsePort } from '../units.js'
import { ensureDir } from '../spool/fsutil.js'

export interface UpCommandDeps {
  /** Loads pino only when `up` runs. */
  makeLogger: () => Promise<Logger>
  onSignal: (handler: (signal: NodeJS.Signals) => void) => void
  defaults: { port: number }
}

type ChildName = 'receive' | 'process'

/** Flags of the children that `up` sets itself, or that would contradict how it runs them. */
const NOT_PASSED = new Set(['--help', '--follow', '--schedule'])

interface PassedOption { option: Option, children: ChildName[] }

/**
 * Gives `up` every option of `receive` and `process` it does not have, each passed on as given
 * to the child (or both children) that has it. Only flags are passed: the children read the
 * CALLBACK_SPOOL_* environment and the --config file themselves.
 */
function addPassedOptions (program: Command, up: Command): PassedOption[] {
  const own = new Set(up.options.map((o) => o.long))
  const passed = new Map<string, PassedOption>()
  for (const name of ['receive', 'process'] as const) {
    for (const original of program.commands.find((c) => c.name() === name)?.options ?? []) {
      const long = original.long
      if (long === undefined || own.has(long) || NOT_PASSED.has(long)) continue
      const known = passed.get(long)
      if (known !== undefined) {
        known.children.push(name)
        continue
      }
      const option = new Option(original.flags, original.description)
        .helpGroup(name === 'receive' ? 'Passed on to the receiver (see receive --help):' : 'Passed on to the processor (see process --help):')
      // Every value is kept, as given, in order: repeatable flags (--on) pass on whole.
      if (!option.isBoolean()) option.argParser((value: string, previous: string[] | undefined) => [...previous ?? [], value])
      up.addOption(option)
      passed.set(long, { option, children: [name] })
    }
  }
  return [...passed.values()]
}

/** The flags given on up's command line for each child, as `['--on', 'x', '--on', 'y']`. */
function childArgs (up: Command, passed: PassedOption[]): Record<ChildName, string[]> {
  const args: Record<ChildName, string[]> = { receive: [], process: [] }
  for (const { option, children } of passed) {
    const key = option.attributeName()
    if (up.getOptionValueSource(key) !== 'cli') continue
    const value: unknown = up.getOptionValue(key)
    const flags = option.isBoolean()
      ? [value === false ? `--no-${option.long!.replace(/^--(no-)?/, '')}` : option.long!]
      : (value as string[]).flatMap((v) => [option.long!, v])
    for (const child of children) args[child].push(...flags)
  }
  return args
}

export function registerUpCommand (program: Command, deps: UpCommandDeps): Command {
  const up = program.command('up')
    .description('run the receiver and a processor following the spool, as two child processes restarted if they die')
    .addOption(envOption('--host <host>', 'receiver: address to listen on (default: all)'))
    .addOption(envOption('--port <port>', 'receiver: port to listen on').default(String(deps.defaults.port)))
    .addOption(dataDirOption('data directory of both'))
    .addHelpText('after', `
Both children log JSON lines to this stdout; SIGTERM or Ctrl-C stops both. A child that dies is
restarted with a back-off; one that exits 64 or 78 (bad usage or configuration), or that failed
within 10 s of its start 5 times in a row, is not: \`up\` then stops the other one and exits with
that child's code.

Example:
  callback-spool up --port 8080 --data-dir data --on 'optout=exec:./add-to-blocklist.sh'
`)
  const passed = addPassedOptions(program, up)
  setOptionsValidator(up, (opts: { port: string }) => parsePort('--port', opts.port))
  return up.action(async (opts: { host?: string, port: string, dataDir: string }) => {
    const logger = await deps.makeLogger()
    parsePort('--port', opts.port)
    // `up` runs the receiver, which alone creates a data dir: create it before the processor
    // starts beside it, or the processor would refuse it (66) until the receiver had made it.
    await ensureDir(opts.dataDir)
    // The children read --log-level from their environment, as they read every other option.
    if (program.getOptionValueSource('logLevel') !== 'default') process.env.CALLBACK_SPOOL_LOG_LEVEL = program.opts().logLevel as string
    const { startUp } = await import('./run.js')
    const args = childArgs(up, passed)
    const running = startUp({
      dataDir: opts.dataDir,
      port: opts.port,
      host: opts.host,
      receiveArgs: args.receive,
      processArgs: args.process,
      configPath: program.opts().config as string | undefined,
    }, logger)
    await new Promise<void>((resolve) => {
      running.gaveUp.then((code) => {
        process.exitCode = code
        resolve()
      }, (err: unknown) => {
        logger.error({ err }, 'error while stopping')
        process.exitCode = 1
        resolve()
      })
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
