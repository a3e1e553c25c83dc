/**
 * The SQL targets in the processor bench: 100k records (many numbers, the four kinds) into
 * PostgreSQL and into MariaDB/MySQL through the real CLI, at `--concurrency 32` beside 1 in the
 * same run, each pass into a database of its own, created empty and dropped afterwards.
 *
 *   npm run bench -- --only processor            (after bench/concurrency.ts)
 *
 * The servers: CALLBACK_SPOOL_TEST_PG and CALLBACK_SPOOL_TEST_MYSQL, as for the tests, else the
 * local ones; a server that cannot be reached is a SKIP. Targets: PostgreSQL at least 15,000
 * records/s, MariaDB/MySQL at least 8,000 records/s, at 32.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { CONCURRENCY, pass, type ConcurrencyRun } from './concurrency.js'
import { generateSpool } from './processor.js'
import type { ProcessorTarget } from './processor-report.js'

export const SQL_RECORDS = 100_000
export const TARGET_POSTGRES = 15_000
export const TARGET_MYSQL = 8_000

type Dialect = 'postgres' | 'mysql'

const SERVERS: Record<Dialect, { name: string, env: string, fallback: string, target: number }> = {
  postgres: { name: 'PostgreSQL', env: 'CALLBACK_SPOOL_TEST_PG', fallback: 'postgres://postgres@127.0.0.1:5432/test', target: TARGET_POSTGRES },
  mysql: { name: 'MariaDB/MySQL', env: 'CALLBACK_SPOOL_TEST_MYSQL', fallback: 'mysql://root@127.0.0.1:3306/test', target: TARGET_MYSQL },
}

export interface SqlRun {
  dialect: Dialect
  /** Undefined: the server could not be reached (why in `skipped`). */
  run: ConcurrencyRun | undefined
  skipped?: string
}

/** Runs a statement on the server's admin database. */
async function admin (dialect: Dialect, url: string, sql: string): Promise<void> {
  if (dialect === 'postgres') {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
    client.on('error', () => {})
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
    return
  }
  const conn = await mysql.createConnection({ uri: url, connectTimeout: 5000 })
  try {
    await conn.query(sql)
  } finally {
    await conn.end()
  }
}

/** One pass into a new, empty database, dropped afterwards; records/s (NaN if it failed) and CPU µs per record. */
async function passIntoNewDatabase (dialect: Dialect, serverUrl: string, dataDir: string, concurrency: number): Promise<{ rate: number, cpuUs: number }> {
  const name = `cs_bench_${randomBytes(6).toString('hex')}`
  await admin(dialect, serverUrl, `CREATE DATABASE ${name}`)
  try {
    const target = new URL(serverUrl)
    target.pathname = `/${name}`
    return await pass(dataDir, SQL_RECORDS, ['--on', `*=${target.href}`, '--concurrency', String(concurrency)])
  } finally {
    await admin(dialect, serverUrl, dialect === 'postgres' ? `DROP DATABASE IF EXISTS ${name} WITH (FORCE)` : `DROP DATABASE IF EXISTS ${name}`)
  }
}

const int = (n: number): string => Number.isNaN(n) ? 'failed' : Math.round(n).toLocaleString('en-US')
const load = (): string => loadavg().map((n) => n.toFixed(2)).join(' ')

export async function runSqlBench (log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<SqlRun[]> {
  const runs: SqlRun[] = []
  const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  try {
    // Callbacks about many numbers, as a real backlog.
    await generateSpool(dataDir, SQL_RECORDS, 1000)
    for (const dialect of ['postgres', 'mysql'] as const) {
      const server = SERVERS[dialect]
      const url = env[server.env] ?? server.fallback
      try {
        await admin(dialect, url, 'SELECT 1')
      } catch (err) {
        const skipped = `no ${server.name} server at ${url.replace(/:[^:@/]*@/, ':****@')} (${(err as Error).message}); set ${server.env}`
        log(`  ${server.name}: skipped, ${skipped}`)
        runs.push({ dialect, run: undefined, skipped })
        continue
      }
      const many = await passIntoNewDatabase(dialect, url, dataDir, CONCURRENCY)
      const concurrentLoad = load()
      const one = await passIntoNewDatabase(dialect, url, dataDir, 1)
      const concurrent = many.rate
      const sequential = one.rate
      const run: ConcurrencyRun = {
        target: server.name,
        records: SQL_RECORDS,
        sequential,
        concurrent,
        sequentialCpuUs: one.cpuUs,
        concurrentCpuUs: many.cpuUs,
        failed: Number.isNaN(sequential) || Number.isNaN(concurrent),
      }
      runs.push({ dialect, run })
      log(`  ${server.name}, ${int(SQL_RECORDS)} records: --concurrency ${CONCURRENCY} ${int(concurrent)} records/s (load average ${concurrentLoad}), ` +
        `1 ${int(sequential)} records/s (load average ${load()})${run.failed ? ' (a pass failed)' : ''}`)
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true })
  }
  return runs
}

export function sqlTargets (runs: SqlRun[]): ProcessorTarget[] {
  return runs.map(({ dialect, run, skipped }) => {
    const server = SERVERS[dialect]
    const label = `${server.name} at --concurrency ${CONCURRENCY}: >= ${int(server.target)} records/s`
    if (run === undefined) return { label, measured: skipped ?? 'not measured', pass: undefined }
    return { label, measured: `${int(run.concurrent)} records/s (${int(run.sequential)} at 1)`, pass: !run.failed && run.concurrent >= server.target }
  })
}
