/**
 * `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?prefix=P&password_file=F]` (also `postgresql://`)
 * and `mysql://...` (also `mariadb://`): what a SQL target's URL says, and how it is shown with
 * its password masked.
 */
import { readFile } from 'node:fs/promises'
import { ConfigError } from '../../errors.js'
import { maskUrlCredentials } from '../../mask.js'

export type SqlDialect = 'postgres' | 'mysql'

export const SQL_SCHEMES: Readonly<Record<string, SqlDialect>> = Object.freeze({
  'postgres:': 'postgres',
  'postgresql:': 'postgres',
  'mysql:': 'mysql',
  'mariadb:': 'mysql',
})

/** Each driver's usual variable, read when neither the URL nor `password_file` gives a password. */
const PASSWORD_ENV: Readonly<Record<SqlDialect, string>> = Object.freeze({ postgres: 'PGPASSWORD', mysql: 'MYSQL_PWD' })
const DEFAULT_PORT: Readonly<Record<SqlDialect, number>> = Object.freeze({ postgres: 5432, mysql: 3306 })
const PREFIX_RE = /^[a-z_][a-z0-9_]{0,31}$/i
const KNOWN_PARAMS = new Set(['prefix', 'password_file'])

export interface SqlTarget {
  dialect: SqlDialect
  host: string
  port: number
  user: string
  database: string
  /** Prepended to every table name. @default '' */
  prefix: string
  /** Password given in the URL itself. */
  password?: string
  /** `?password_file=PATH`: the password is this file's first line. */
  passwordFile?: string
  /** The URL as it may be logged: the password replaced by `***`. */
  display: string
}

export function isSqlTarget (target: string): boolean {
  const colon = target.indexOf(':')
  return colon > 0 && Object.hasOwn(SQL_SCHEMES, target.slice(0, colon + 1).toLowerCase())
}

/** Checks the URL (nothing is read or connected); throws a ConfigError that never shows the password. */
export function parseSqlTarget (target: string): SqlTarget {
  const display = maskUrlCredentials(target)
  const fail = (what: string): never => {
    throw new ConfigError(`Expected the SQL target \`${display}\` to be SCHEME://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?prefix=P&password_file=PATH]: ${what}`)
  }
  let url: URL
  try {
    url = new URL(target)
  } catch {
    return fail('not a valid URL')
  }
  const dialect = SQL_SCHEMES[url.protocol.toLowerCase()] ?? fail(`unknown scheme ${url.protocol}`)
  const user = decodeURIComponent(url.username)
  if (user === '') fail('no user')
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1')
  if (host === '') fail('no host')
  const database = decodeURIComponent(url.pathname.replace(/^\//, ''))
  if (database === '' || database.includes('/')) fail('no database, or more than one path segment')
  for (const key of url.searchParams.keys()) {
    if (!KNOWN_PARAMS.has(key)) fail(`unknown parameter \`${key}\` (known: ${[...KNOWN_PARAMS].join(', ')})`)
  }
  const prefix = url.searchParams.get('prefix') ?? ''
  if (prefix !== '' && !PREFIX_RE.test(prefix)) fail(`prefix \`${prefix}\` must be letters, digits and _ (at most 32, not starting with a digit)`)
  const out: SqlTarget = {
    dialect,
    host,
    port: url.port === '' ? DEFAULT_PORT[dialect] : Number(url.port),
    user,
    database,
    prefix,
    display,
  }
  if (url.password !== '') out.password = decodeURIComponent(url.password)
  const file = url.searchParams.get('password_file')
  if (file !== null) {
    if (file === '') fail('password_file is empty')
    out.passwordFile = file
  }
  return out
}

/**
 * The password, in this order: the URL, `password_file`, the driver's environment variable;
 * undefined when none gives one (then the driver's own defaults apply).
 */
export async function resolvePassword (target: SqlTarget, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (target.password !== undefined) return target.password
  if (target.passwordFile !== undefined) {
    let text: string
    try {
      text = await readFile(target.passwordFile, 'utf8')
    } catch (err) {
      throw new ConfigError(`cannot read the password file of ${target.display}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err })
    }
    return text.split(/\r?\n/)[0]!
  }
  return env[PASSWORD_ENV[target.dialect]]
}
