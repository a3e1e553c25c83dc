/**
 * The handler registry: every kind of `--on` target, by its scheme, with how its text is checked,
 * how it is described in `--help`, and how its handler is built. Adding a target is one handler
 * file and one line in TARGETS. The handlers' code is loaded only when a pass builds them, so the
 * commands that only check options (`config`, `--help`) and the tools do not load it.
 */
import type { Logger } from 'pino'
import type { Handler } from './handler.js'
import { parseNatsTarget } from '../nats/url.js'
import { parseSqlTarget } from './sql/target-url.js'

/** What every factory receives besides the target. */
export interface HandlerOptions {
  /** Timeout of one call, in ms (`--handler-timeout`). */
  timeoutMs: number
  /** Tries of a write a handler retries by itself (`--tries`), the first back-off doubled each time (`--retry-delay`). */
  tries?: number
  retryDelayMs?: number
  /** For what a handler says once, outside any record (a JetStream stream created, or differing). */
  logger?: Logger
  /** A JetStream stream the nats target creates: its maximum age (`--stream-max-age`) and replicas (`--stream-replicas`). */
  streamMaxAgeMs?: number
  streamReplicas?: number
}

export interface TargetType {
  /** The schemes it answers to, without the colon: `file`, or `http` and `https`. */
  schemes: readonly string[]
  /** How it is written, for messages and `--help`: `file:PATH`. */
  usage: string
  /** One line for `--help`: what it does with a record. */
  help: string
  /** What is wrong with the target's text, if anything, as "to be ..." (`a valid URL`). */
  check?: (target: string) => string | undefined
  /** Builds the handler for the target as written on the command line. */
  create: (target: string, options: HandlerOptions) => Promise<Handler>
}

/** The text after `scheme:`. */
const rest = (target: string): string => target.slice(target.indexOf(':') + 1)

const fileTarget: TargetType = {
  schemes: ['file'],
  usage: 'file:PATH',
  help: 'append the record as one JSON line; one fdatasync per batch',
  create: async (target) => new (await import('./handlers/file.js')).FileHandler(target, rest(target)),
}

const execTarget: TargetType = {
  schemes: ['exec'],
  usage: 'exec:COMMAND',
  help: '/bin/sh -c, record as JSON on stdin; exit 0 done, 65 dead letter, else retry',
  create: async (target, options) => new (await import('./handlers/exec.js')).ExecHandler(target, rest(target), options.timeoutMs),
}

const moduleTarget: TargetType = {
  schemes: ['module'],
  usage: 'module:PATH',
  help: 'call its default (or `handle`) export with the record; a throw retries',
  create: async (target, options) => await (await import('./handlers/module.js')).ModuleHandler.load(target, rest(target), options.timeoutMs),
}

const httpTarget: TargetType = {
  schemes: ['http', 'https'],
  usage: 'http(s)://URL',
  help: 'POST the record as JSON; 2xx done, 4xx but 408/429 dead letter, else retry',
  check: (target) => {
    try {
      // eslint-disable-next-line no-new
      new URL(target)
      return /^https?:\/\/./s.test(target) ? undefined : 'a valid URL'
    } catch {
      return 'a valid URL'
    }
  },
  create: async (target, options) => new (await import('./handlers/http.js')).HttpHandler(target, options.timeoutMs),
}

const postgresTarget: TargetType = {
  schemes: ['postgres', 'postgresql'],
  usage: 'postgres://URL',
  help: 'insert into the callbacks tables, in batches; a record already there is left as it is',
  // Throws a ConfigError of its own, which never shows the password.
  check: (target) => { parseSqlTarget(target); return undefined },
  create: async (target, options) => await (await import('./handlers/postgres.js')).PostgresHandler.create(target, options),
}

const mysqlTarget: TargetType = {
  schemes: ['mysql', 'mariadb'],
  usage: 'mysql://URL',
  help: 'the same into MariaDB or MySQL',
  check: (target) => { parseSqlTarget(target); return undefined },
  create: async (target, options) => await (await import('./handlers/mysql.js')).MysqlHandler.create(target, options),
}

const natsTarget: TargetType = {
  schemes: ['nats', 'tls'],
  usage: 'nats://HOST:PORT[,...]',
  help: 'publish to the JetStream stream CALLBACKS (?stream=), subject callbacks.<kind> (?subject=), Nats-Msg-Id = id',
  // Throws a ConfigError of its own, which never shows a secret.
  check: (target) => { parseNatsTarget(target); return undefined },
  create: async (target, options) => (await import('./handlers/nats.js')).NatsHandler.create(target, options),
}

export const TARGETS: readonly TargetType[] = [
  fileTarget,
  execTarget,
  moduleTarget,
  httpTarget,
  postgresTarget,
  mysqlTarget,
  natsTarget,
]

/** The target type of `target` by its scheme, or undefined (no scheme, an unknown one, or nothing after it). */
export function targetTypeOf (target: string): TargetType | undefined {
  const colon = target.indexOf(':')
  if (colon <= 0 || colon === target.length - 1) return undefined
  const scheme = target.slice(0, colon)
  return TARGETS.find((t) => t.schemes.includes(scheme))
}

/** `file:PATH, exec:COMMAND, module:PATH or http(s)://URL`. */
export function targetUsages (): string {
  const usages = TARGETS.map((t) => t.usage)
  return usages.length === 1 ? usages[0]! : `${usages.slice(0, -1).join(', ')} or ${usages.at(-1)!}`
}

/** The `Targets:` block of `process --help`. */
export function targetsHelp (): string {
  const width = Math.max(...TARGETS.map((t) => t.usage.length))
  return TARGETS.map((t) => `  ${t.usage.padEnd(width)}  ${t.help}`).join('\n')
}
