/**
 * One options object per command, fed in order of precedence by flags, CALLBACK_SPOOL_* environment
 * variables, a JSON config file (`--config`), and the defaults.
 *
 * It works for every subcommand without touching each one: installConfig() gives every option an
 * environment variable named after its flag (`--max-body` -> CALLBACK_SPOOL_MAX_BODY), so commander
 * reads it; and a preAction hook fills, from the file, each option that neither a flag nor the
 * environment has set. The file's keys are the flags' names, camelCase (`maxBody`) or kebab-case
 * (`max-body`); a key no command knows is a mistake, as is a value of the wrong type.
 */
import type { EventEmitter } from 'node:events'
import { readFile } from 'node:fs/promises'
import { Option, type Command } from 'commander'
import { ConfigError, ConfigMistakesError, UsageError } from './errors.js'
import { DEFAULT_DATA_DIR } from './spool/layout.js'

export const ENV_PREFIX = 'CALLBACK_SPOOL_'
/** Options named like this are printed as `****` by `callback-spool config`. */
const SECRET_RE = /token|password|secret|auth|signing/i
const MASK = '****'

/** Whether an environment variable holds one of our secrets (`CALLBACK_SPOOL_TOKEN`, ...): kept from handlers. */
export function isSecretEnvName (name: string): boolean {
  return name.startsWith(ENV_PREFIX) && SECRET_RE.test(name.slice(ENV_PREFIX.length))
}

export type ConfigValues = Record<string, unknown>

/** Where an option's effective value came from. */
export type ConfigSource = 'cli' | 'env' | 'config' | 'default' | 'unset'

/**
 * Checks and converts a command's raw option values; throws (or rejects with) ConfigError on a bad
 * one. It may load the checks first: a command's definition stays light, and only the command that
 * runs (or `config`) loads its validation code.
 */
export type OptionsValidator = (opts: Record<string, unknown>) => unknown

const validators = new WeakMap<Command, OptionsValidator>()
/** What a command's validator returned for the options it runs with (the hook below). */
const validated = new WeakMap<Command, unknown>()
/**
 * Options that got their environment variable from installConfig(): commander only listens for an
 * option's variable when the option is added, so the hook reads these itself.
 */
const lateEnv = new WeakSet<Option>()

/** Lets `callback-spool config` validate a command's options with the same code its action uses. */
export function setOptionsValidator<T extends object> (command: Command, validate: (opts: T) => unknown): void {
  validators.set(command, validate as OptionsValidator)
}

/**
 * What the command's validator returned for the options it is about to run with: installConfig's
 * hook checks them before every action, from every source, so the action does not check them again.
 */
export function validatedOptions<T> (command: Command): T {
  if (!validated.has(command)) throw new Error(`internal: the options of \`${command.name()}\` were not checked before its action`)
  return validated.get(command) as T
}

/** An option that also reads its environment variable (`--max-body`: `CALLBACK_SPOOL_MAX_BODY`). */
export function envOption (flags: string, description: string): Option {
  const option = new Option(flags, description)
  return option.env(envNameOf(option))
}

/** `--data-dir`, from CALLBACK_SPOOL_DATA_DIR and the config file too: the same for every command. */
export function dataDirOption (description = 'data directory'): Option {
  return envOption('--data-dir <dir>', description).default(DEFAULT_DATA_DIR)
}

/** `--max-body` -> `CALLBACK_SPOOL_MAX_BODY`. */
export function envNameOf (option: Option): string {
  return option.envVar ?? `${ENV_PREFIX}${option.attributeName().replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`
}

function kebab (camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
}

function camel (key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())
}

function walk (command: Command, visit: (command: Command) => void): void {
  visit(command)
  for (const sub of command.commands) walk(sub, visit)
}

/**
 * Options only a flag may set: the switches and filters of the operator tools (`cat --follow`,
 * `replay --yes`, `--json`). A config file or environment shared with `process --follow` must not
 * make `cat` follow, nor a stray `yes` confirm a replay.
 */
const flagOnly = new WeakSet<Option>()

/** Marks an option as settable by its flag only: no CALLBACK_SPOOL_* variable, no config-file key. */
export function flagOnlyOption (option: Option): Option {
  flagOnly.add(option)
  return option
}

/** Options the config file may set: every command's, except --config itself, --help and flag-only ones. */
function configurableOptions (command: Command): Option[] {
  return command.options.filter((o) => o.attributeName() !== 'config' && o.long !== '--help' && o.long !== '--version' && !flagOnly.has(o))
}

/**
 * Adds `--config FILE` (env CALLBACK_SPOOL_CONFIG) to the program, gives every option of every
 * command its environment variable, and installs the hook that applies the file. Call it once,
 * after all commands are defined.
 */
export function installConfig (program: Command): void {
  walk(program, (command) => {
    for (const option of configurableOptions(command)) {
      if (option.envVar === undefined) {
        // Set for --help's sake ("env: CALLBACK_SPOOL_..."); the value is read by the hook below.
        option.env(envNameOf(option))
      }
      // Every variable is read by the hook, not by commander, whose mistakes would exit 64 (bad
      // usage) for what is a bad environment (78).
      ;(command as unknown as EventEmitter).removeAllListeners(`optionEnv:${option.name()}`)
      lateEnv.add(option)
    }
  })
  program.addOption(new Option('--config <file>', 'JSON file of options (keys as the flags: "max-body" or "maxBody"); flags and CALLBACK_SPOOL_* env win over it')
    .env(`${ENV_PREFIX}CONFIG`))
  program.hook('preAction', async (root, actionCommand) => {
    for (let c: Command | null = actionCommand; c !== null; c = c.parent) applyLateEnv(c)
    const path = root.opts().config as string | undefined
    if (path !== undefined) applyConfigValues(actionCommand, await loadConfigFile(path, root), path)
    // Checked here, each mistake can name its source; the action takes the result (validatedOptions).
    const validate = validators.get(actionCommand)
    try {
      if (validate !== undefined) validated.set(actionCommand, await validate(actionCommand.opts()))
    } catch (err) {
      if (err instanceof ConfigError) throw attributeMistakes(actionCommand, err, path)
      throw err
    }
  })
}

/** Reads, parses and checks the config file against every command's options: all mistakes at once. */
export async function loadConfigFile (path: string, program: Command): Promise<ConfigValues> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold one JSON object of options, got ${Array.isArray(parsed) ? 'an array' : typeof parsed}`)
  }
  const known = new Map<string, Option[]>()
  walk(program, (command) => {
    for (const option of configurableOptions(command)) {
      const list = known.get(option.attributeName()) ?? []
      list.push(option)
      known.set(option.attributeName(), list)
    }
  })
  const values: ConfigValues = {}
  const mistakes: string[] = []
  for (const [key, value] of Object.entries(parsed)) {
    const name = camel(key)
    const options = known.get(name)
    if (options === undefined) {
      mistakes.push(`unknown key \`${key}\` (not an option of any command; see --help)`)
      continue
    }
    if (Object.hasOwn(values, name)) {
      mistakes.push(`\`${key}\` is given twice (as ${kebab(name)} and ${name})`)
      continue
    }
    const problem = typeProblem(options[0]!, value)
    if (problem !== undefined) mistakes.push(`\`${key}\` ${problem}`)
    else values[name] = value
  }
  if (mistakes.length > 0) throw new ConfigError(`config file ${path}: ${mistakes.join('; ')}`)
  return values
}

function typeProblem (option: Option, value: unknown): string | undefined {
  const describe = (v: unknown): string => `${JSON.stringify(v)} (${Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v})`
  if (option.isBoolean()) {
    return typeof value === 'boolean' ? undefined : `must be true or false, got ${describe(value)}`
  }
  const repeatable = option.variadic || option.parseArg !== undefined
  const items = Array.isArray(value) && repeatable ? value : [value]
  for (const item of items) {
    if (typeof item !== 'string' && !(typeof item === 'number' && Number.isFinite(item))) {
      return `must be a ${repeatable ? 'string, a number or an array of them' : 'string or a number'}, got ${describe(value)}`
    }
    if (option.argChoices !== undefined && !option.argChoices.includes(String(item))) {
      return `must be one of ${option.argChoices.join(', ')}, got ${describe(item)}`
    }
  }
  return undefined
}

function applyLateEnv (command: Command, env: NodeJS.ProcessEnv = process.env): void {
  for (const option of configurableOptions(command)) {
    const raw = option.envVar === undefined ? undefined : env[option.envVar]
    if (!lateEnv.has(option) || raw === undefined) continue
    const name = option.attributeName()
    const source = command.getOptionValueSource(name)
    if (source !== undefined && source !== 'default') continue
    let value: unknown = option.isBoolean() ? !option.negate : raw
    if (!option.isBoolean()) {
      if (option.argChoices !== undefined && !option.argChoices.includes(raw)) {
        throw new ConfigError(`Expected \`${option.envVar}\` to be one of ${option.argChoices.join(', ')}, got \`${raw}\``)
      }
      try {
        if (option.parseArg !== undefined) value = option.parseArg(raw, command.getOptionValue(name))
        else if (option.variadic) value = [raw]
      } catch (err) {
        throw new ConfigError(`${option.envVar}: ${(err as Error).message}`, { cause: err })
      }
    }
    command.setOptionValueWithSource(name, value, 'env')
  }
}

/**
 * Says where each bad value came from: a mistake's message names the flag (`--port`), which becomes
 * the environment variable or the config file's key when the value came from there. Bad usage
 * (64) when every mistake is on the command line, bad configuration (78) otherwise.
 */
export function attributeMistakes (command: Command, err: ConfigError, configPath: string | undefined): ConfigError | UsageError {
  let fromCommandLine = true
  const messages = (err instanceof ConfigMistakesError ? err.mistakes : [err]).map(({ message }) => {
    const flag = /`(--[a-z0-9-]+)/.exec(message)?.[1]
    const option = flag === undefined ? undefined : command.options.find((o) => o.long === flag)
    const source = option === undefined ? undefined : command.getOptionValueSource(option.attributeName())
    if (source === 'cli') return message
    fromCommandLine = false
    if (option === undefined || flag === undefined) return message
    if (source === 'env') return `${message.replaceAll(flag, envNameOf(option))} (from the environment: fix or unset it)`
    if (source === 'config') return `${message.replaceAll(flag, kebab(option.attributeName()))} (key in config file ${configPath})`
    return message
  })
  const message = messages.join('; ')
  return fromCommandLine ? new UsageError(message, { cause: err }) : new ConfigError(message, { cause: err })
}

/** Sets, from the file, each option of `command` that no flag and no environment variable has set. */
export function applyConfigValues (command: Command, values: ConfigValues, path: string): void {
  for (const option of configurableOptions(command)) {
    const name = option.attributeName()
    if (!Object.hasOwn(values, name)) continue
    const source = command.getOptionValueSource(name)
    if (source !== undefined && source !== 'default') continue
    command.setOptionValueWithSource(name, convert(option, values[name], command.getOptionValue(name), path), 'config')
  }
}

function convert (option: Option, value: unknown, current: unknown, path: string): unknown {
  if (option.isBoolean()) return value
  const items = (Array.isArray(value) ? value : [value]).map(String)
  try {
    if (option.parseArg !== undefined) {
      let acc: unknown = current
      for (const item of items) acc = option.parseArg(item, acc)
      return acc
    }
  } catch (err) {
    throw new ConfigError(`config file ${path}: \`${kebab(option.attributeName())}\`: ${(err as Error).message}`, { cause: err })
  }
  return option.variadic ? items : items[0]
}

export interface EffectiveOption {
  /** The flag's name, kebab-case, as in `--max-body`. */
  flag: string
  /** The attribute name, camelCase, as in the options object and the config file. */
  key: string
  value: unknown
  source: ConfigSource
  env: string
  secret: boolean
}

/**
 * A command's effective options as its action would see them when run with no flags: environment,
 * then config file, then defaults. Reads process.env and the given file values; runs nothing.
 */
export function effectiveOptions (command: Command, values: ConfigValues, env: NodeJS.ProcessEnv = process.env): EffectiveOption[] {
  return configurableOptions(command).map((option) => {
    const key = option.attributeName()
    const envName = envNameOf(option)
    let value: unknown
    let source: ConfigSource
    // A `--no-x` flag defaults x to true, as commander does.
    const defaultValue = option.negate ? option.defaultValue ?? true : option.defaultValue
    if (env[envName] !== undefined) {
      value = option.isBoolean() ? !option.negate : env[envName]
      source = 'env'
    } else if (Object.hasOwn(values, key)) {
      value = convert(option, values[key], defaultValue, 'file')
      source = 'config'
    } else if (defaultValue !== undefined) {
      value = defaultValue
      source = 'default'
    } else {
      value = undefined
      source = 'unset'
    }
    return { flag: kebab(key), key, value, source, env: envName, secret: SECRET_RE.test(key) }
  })
}

/** Replaces the value of every secret-looking option that is set by `****`. */
export function maskSecrets (options: EffectiveOption[]): EffectiveOption[] {
  return options.map((o) => o.secret && o.value !== undefined && o.value !== false ? { ...o, value: MASK } : o)
}

/** Runs the command's validator, if it has one, over the effective values; returns its mistake or undefined. */
export async function validateEffective (command: Command, options: EffectiveOption[]): Promise<string | undefined> {
  const validate = validators.get(command)
  if (validate === undefined) return undefined
  try {
    await validate(Object.fromEntries(options.map((o) => [o.key, o.value])))
    return undefined
  } catch (err) {
    if (err instanceof ConfigError) return err.message
    throw err
  }
}

/**
 * Runs every check of an options object and throws one ConfigError naming each mistake, so a
 * person fixes them all in one go rather than one per run.
 */
export function checkAll<T extends object> (checks: { [K in keyof T]-?: () => T[K] }): T {
  const out: Partial<T> = {}
  const mistakes: ConfigError[] = []
  for (const key of Object.keys(checks) as Array<keyof T>) {
    try {
      out[key] = checks[key]()
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      mistakes.push(...err instanceof ConfigMistakesError ? err.mistakes : [err])
    }
  }
  if (mistakes.length > 0) throw new ConfigMistakesError(mistakes)
  return out as T
}
