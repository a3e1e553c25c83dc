/**
 * The real PostgreSQL and MariaDB/MySQL servers for tests: reach one or skip (with one line
 * saying which and how to point at one; with CI=true a missing server fails), and give each test
 * a database of its own, dropped when the test ends.
 */
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'

export type Dialect = 'postgres' | 'mysql'

const SERVERS: Record<Dialect, { name: string, env: string, fallback: string }> = {
  postgres: { name: 'PostgreSQL', env: 'CALLBACK_SPOOL_TEST_PG', fallback: 'postgres://postgres@127.0.0.1:5432/test' },
  mysql: { name: 'MariaDB/MySQL', env: 'CALLBACK_SPOOL_TEST_MYSQL', fallback: 'mysql://root@127.0.0.1:3306/test' },
}

/** Rows as plain values: timestamps as ISO 8601 UTC strings, JSON columns parsed. */
export type Row = Record<string, unknown>

export interface TestDatabase {
  dialect: Dialect
  /** The target URL for `--on`, into this test's own database. */
  url: string
  name: string
  query (sql: string, values?: unknown[]): Promise<Row[]>
  /** Another connection to this database, closed when the test ends. */
  open (): Promise<Connection>
}

export interface SqlServer {
  dialect: Dialect
  /** The server's URL (any database on it): where test databases are created. */
  url: string
}

/** Reaches the server; undefined (after printing one line) when it is not there and CI is not set. */
export async function reachServer (dialect: Dialect, env: NodeJS.ProcessEnv = process.env): Promise<SqlServer | undefined> {
  const server = SERVERS[dialect]
  const url = env[server.env] ?? server.fallback
  try {
    const admin = await connect(dialect, url)
    await admin.close()
    return { dialect, url }
  } catch (err) {
    const line = `no ${server.name} server at ${url.replace(/:[^:@/]*@/, ':****@')} (${(err as Error).message}); ` +
      `set ${server.env}=${dialect === 'postgres' ? 'postgres' : 'mysql'}://USER[:PASSWORD]@HOST:PORT/DB to run these tests`
    if (env.CI === 'true') throw new Error(`${line}; CI=true: a missing server fails the run`)
    process.stderr.write(`skipping the ${server.name} tests: ${line}\n`)
    return undefined
  }
}

export interface Connection {
  query (sql: string, values?: unknown[]): Promise<Row[]>
  close (): Promise<void>
}

async function connect (dialect: Dialect, url: string): Promise<Connection> {
  if (dialect === 'postgres') {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
    client.on('error', () => {})
    await client.connect()
    return {
      query: async (sql, values) => {
        const result = await client.query(sql, values)
        // A script of several statements answers with one result each.
        return (Array.isArray(result) ? [] : result.rows).map(plain)
      },
      close: () => client.end(),
    }
  }
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 5000, dateStrings: true, charset: 'utf8mb4' })
  conn.on('error', () => {})
  return {
    query: async (sql, values) => {
      const [rows] = await conn.query(sql, values)
      return Array.isArray(rows) ? (rows as Row[]).map(plain) : []
    },
    close: () => conn.end(),
  }
}

const TIME_COLUMNS = new Set(['opted_in_at', 'received_at', 'event_time', 'opted_out_at', 'applied_at'])

function plain (row: Row): Row {
  const out: Row = {}
  for (const [key, value] of Object.entries(row)) {
    if (value instanceof Date) out[key] = value.toISOString()
    else if (typeof value === 'string' && TIME_COLUMNS.has(key)) out[key] = new Date(value.replace(' ', 'T') + 'Z').toISOString()
    else if (key === 'fields' && typeof value === 'string') out[key] = JSON.parse(value)
    else out[key] = value
  }
  return out
}

/** A new database on the server for this test, dropped (connections and all) when it ends. */
export async function testDatabase (t: TestContext, server: SqlServer): Promise<TestDatabase> {
  const name = `cs_test_${randomBytes(6).toString('hex')}`
  const admin = await connect(server.dialect, server.url)
  await admin.query(`CREATE DATABASE ${name}`)
  const target = new URL(server.url)
  target.pathname = `/${name}`
  const url = target.href
  const own = await connect(server.dialect, url)
  t.after(async () => {
    await own.close().catch(() => {})
    if (server.dialect === 'mysql') {
      // MySQL has no DROP DATABASE ... WITH (FORCE): a connection the test left in a transaction
      // (a target of a failed test) would hold its metadata locks, and the DROP would wait for ever.
      for (const row of await admin.query(`SELECT id FROM information_schema.processlist WHERE db = '${name}'`)) {
        await admin.query(`KILL ${Number(row.id)}`).catch(() => {})
      }
    }
    await admin.query(server.dialect === 'postgres' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`)
    await admin.close()
  })
  const others: Connection[] = []
  t.after(async () => { for (const c of others) await c.close().catch(() => {}) })
  const open = async (): Promise<Connection> => {
    const c = await connect(server.dialect, url)
    others.push(c)
    return c
  }
  return { dialect: server.dialect, url, name, query: (sql, values) => own.query(sql, values), open }
}
