/** `callback-spool config`: the effective options of each command, secrets masked, and their sources. */
import type { Command } from 'commander'
import { effectiveOptions, loadConfigFile, maskSecrets, validateEffective, type ConfigValues, type EffectiveOption } from './config.js'
import { ConfigError } from './errors.js'
import { maskUrlCredentials } from './mask.js'

export interface CommandConfig {
  command: string
  options: EffectiveOption[]
}

/** Commands whose configuration is shown: every one with options, except `config` itself. */
export function configurableCommands (program: Command): Command[] {
  return program.commands.filter((c) => c.name() !== 'config' && c.options.some((o) => o.long !== '--help'))
}

/** A value as `config` shows it: credentials in a URL (an http `--on` target) masked. */
function withoutUrlCredentials (option: EffectiveOption): EffectiveOption {
  const { value } = option
  if (typeof value === 'string') return { ...option, value: maskUrlCredentials(value) }
  if (Array.isArray(value)) return { ...option, value: value.map((v: unknown) => typeof v === 'string' ? maskUrlCredentials(v) : v) }
  return option
}

/** Effective, masked options per command; throws one ConfigError naming every invalid value. */
export async function collectConfig (program: Command, values: ConfigValues, env: NodeJS.ProcessEnv = process.env): Promise<CommandConfig[]> {
  const out: CommandConfig[] = []
  const mistakes: string[] = []
  for (const command of configurableCommands(program)) {
    const options = effectiveOptions(command, values, env)
    const mistake = await validateEffective(command, options)
    if (mistake !== undefined) mistakes.push(`${command.name()}: ${mistake}`)
    out.push({ command: command.name(), options: maskSecrets(options).map(withoutUrlCredentials) })
  }
  if (mistakes.length > 0) throw new ConfigError(mistakes.join('; '))
  return out
}

/** `{ "receive": { "port": "8080", ... } }`: the shape a config file takes, per command. */
export function configAsJson (config: CommandConfig[]): string {
  const obj: Record<string, Record<string, unknown>> = {}
  for (const c of config) {
    obj[c.command] = Object.fromEntries(c.options.filter((o) => o.value !== undefined).map((o) => [o.key, o.value]))
  }
  return JSON.stringify(obj, null, 2) + '\n'
}

export function configAsText (config: CommandConfig[], configPath: string | undefined): string {
  const lines = [`# effective options without flags (flags win over all of these); config file: ${configPath ?? 'none'}`]
  for (const c of config) {
    lines.push('', `${c.command}:`)
    const width = Math.max(...c.options.map((o) => o.flag.length)) + 2
    for (const o of c.options) {
      const value = o.value === undefined ? '(unset)' : typeof o.value === 'string' ? o.value : JSON.stringify(o.value)
      const from = o.source === 'env' ? `env ${o.env}` : o.source === 'config' ? 'config file' : o.source === 'default' ? 'default' : ''
      lines.push(`  --${o.flag.padEnd(width)}${value.padEnd(24)} ${from}`.trimEnd())
    }
  }
  return lines.join('\n') + '\n'
}

/** The `config` subcommand. */
export function registerConfigCommand (program: Command, write: (text: string) => void = (text) => { process.stdout.write(text) }): Command {
  return program.command('config')
    .description('print the effective options of each command (flags aside), from env, --config file and defaults; secrets masked')
    .option('--json', 'print JSON, keyed by command, in the shape of a config file')
    .addHelpText('after', '\nExample:\n  CALLBACK_SPOOL_PORT=9000 callback-spool --config /etc/callback-spool.json config\n')
    .action(async (opts: { json?: boolean }) => {
      const path = program.opts().config as string | undefined
      const values = path === undefined ? {} : await loadConfigFile(path, program)
      const config = await collectConfig(program, values)
      write(opts.json === true ? configAsJson(config) : configAsText(config, path))
    })
}
