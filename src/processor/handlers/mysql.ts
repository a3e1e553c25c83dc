/**
 * `mysql://USER[:PASSWORD]@HOST[:PORT]/DB` (also `mariadb://`): records are buffered and written
 * in the background (sql/batch-queue.ts); each batch is one transaction of a few multi-row statements. The ids and
 * `dedupe_key`s already in `callbacks` are looked up first and left as they are; only the new records are inserted and update `callback_optouts`, `callback_optins` and `callback_deliveries`.
 * No INSERT IGNORE: it would turn a refused value into a warning and store it truncated.
 */
import { createHash } from 'node:crypto'
import mysql from 'mysql2/promise'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'
import { BatchQueue, withoutQuotedValues, type BatchWriter } from '../sql/batch-queue.js'
import { QueuedSqlHandler } from '../sql/queued-handler.js'
import { checkSchemaVersion, mysqlMigration, mysqlTableStatements, SCHEMA_VERSION, tableNames, type TableNames } from '../sql/schema.js'
import { parseSqlTarget, resolvePassword, type SqlTarget } from '../sql/target-url.js'
import type { HandlerOptions } from '../targets.js'

/** Server errors that blame a value: too long, bad string, bad date, out of range, NULL, invalid JSON, CHECK. */
const DATA_ERRNOS = new Set([1048, 1264, 1265, 1292, 1300, 1366, 1367, 1406, 3140, 4025])
/** Strict: a value that does not fit is an error, never a silent truncation. */
const SESSION_SETUP = "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'"

interface MysqlRow {
  id: string
  kind: string
  messageId: string | null
  number: string | null
  status: string | null
  receivedAt: string
  eventTime: string | null
  dedupeKey: string | null
  /** The `callbacks` row, in column order. */
  values: Array<string | null>
  size: number
}

/** ISO 8601 UTC -> `YYYY-MM-DD HH:MM:SS.mmm` (the session is in UTC); unreadable: as it is, for the server to refuse. */
function toDatetime (iso: string): string {
  const ms = Date.parse(iso)
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString().slice(0, 23).replace('T', ' ')
}

function rowOf (record: NormalisedCallback): MysqlRow {
  const fields = JSON.stringify(record.fields)
  const receivedAt = toDatetime(record.received_at)
  const eventTime = record.event_time === null ? null : toDatetime(record.event_time)
  const status = record.status ?? null
  const text = record.text ?? null
  return {
    id: record.id,
    kind: record.kind,
    messageId: record.message_id,
    number: record.number,
    status,
    receivedAt,
    eventTime,
    dedupeKey: record.dedupe_key ?? null,
    values: [record.id, record.kind, receivedAt, eventTime, record.message_id, record.number, status, text, fields, record.dedupe_key ?? null],
    size: fields.length + (text?.length ?? 0) + 200,
  }
}

/** Whether `b`, later in the spool, replaces `a` as the latest delivery status: by time, undated ones oldest. */
function newerDelivery (a: MysqlRow, b: MysqlRow): boolean {
  if (b.eventTime === null) return a.eventTime === null
  return a.eventTime === null || b.eventTime >= a.eventTime
}

function latestBy (rows: MysqlRow[], key: (r: MysqlRow) => string | null, newer: (a: MysqlRow, b: MysqlRow) => boolean): MysqlRow[] {
  const out = new Map<string, MysqlRow>()
  for (const row of rows) {
    const k = key(row)
    if (k === null) continue
    const current = out.get(k)
    if (current === undefined || newer(current, row)) out.set(k, row)
  }
  return [...out.values()]
}

const optedOutAt = (r: MysqlRow): string => r.eventTime ?? r.receivedAt

function statements (t: TableNames): { existing: string, callbacks: string, optouts: (rows: string) => string, optins: string, latestOptins: string, deliveries: string } {
  const newer = '`event_time` IS NULL OR VALUES(`event_time`) >= `event_time`'
  return {
    existing: `SELECT \`id\`, \`dedupe_key\` FROM \`${t.callbacks}\` WHERE \`id\` IN (?) OR \`dedupe_key\` IN (?)`,
    callbacks: `INSERT INTO \`${t.callbacks}\` (\`id\`, \`kind\`, \`received_at\`, \`event_time\`, \`message_id\`, \`number\`, \`status\`, \`text\`, \`fields\`, \`dedupe_key\`) VALUES ?
      ON DUPLICATE KEY UPDATE \`id\` = \`id\``,
    // Assignments run left to right on the updated row: the column compared is assigned last.
    // `rows`: `SELECT ? AS n, CAST(? AS DATETIME(3)) AS at, ? AS rid UNION ALL SELECT ...`, one per
    // opt-out; one with an opt-in at or after its time in `callback_optins` is left out.
    optouts: (rows) => `INSERT INTO \`${t.optouts}\` (\`number\`, \`opted_out_at\`, \`record_id\`)
      SELECT v.n, v.at, v.rid FROM (${rows}) AS v
      WHERE NOT EXISTS (SELECT 1 FROM \`${t.optins}\` AS o WHERE o.\`number\` = v.n AND o.\`opted_in_at\` >= v.at)
      ON DUPLICATE KEY UPDATE \`record_id\` = IF(VALUES(\`opted_out_at\`) >= \`opted_out_at\`, VALUES(\`record_id\`), \`record_id\`),
      \`opted_out_at\` = GREATEST(\`opted_out_at\`, VALUES(\`opted_out_at\`))`,
    // One `(number = ? AND opted_out_at <= ?)` per opt-in, joined by OR.
    optins: `DELETE FROM \`${t.optouts}\` WHERE `,
    latestOptins: `INSERT INTO \`${t.optins}\` (\`number\`, \`opted_in_at\`, \`record_id\`) VALUES ?
      ON DUPLICATE KEY UPDATE \`record_id\` = IF(VALUES(\`opted_in_at\`) >= \`opted_in_at\`, VALUES(\`record_id\`), \`record_id\`),
      \`opted_in_at\` = GREATEST(\`opted_in_at\`, VALUES(\`opted_in_at\`))`,
    deliveries: `INSERT INTO \`${t.deliveries}\` (\`message_id\`, \`number\`, \`status\`, \`event_time\`, \`record_id\`) VALUES ?
      ON DUPLICATE KEY UPDATE \`status\` = IF(${newer}, VALUES(\`status\`), \`status\`),
      \`record_id\` = IF(${newer}, VALUES(\`record_id\`), \`record_id\`),
      \`event_time\` = IF(${newer}, VALUES(\`event_time\`), \`event_time\`)`,
  }
}

export class MysqlHandler extends QueuedSqlHandler<MysqlRow> implements Handler, BatchWriter<MysqlRow> {
  readonly target: string
  private readonly sqlTarget: SqlTarget
  private readonly pool: mysql.Pool
  protected readonly queue: BatchQueue<MysqlRow>
  private readonly tables: TableNames
  private readonly sql: ReturnType<typeof statements>
  private readonly timeoutMs: number
  private schemaChecked = false

  private constructor (sqlTarget: SqlTarget, password: string | undefined, options: HandlerOptions) {
    super()
    const timeoutMs = options.timeoutMs
    this.target = sqlTarget.display
    this.sqlTarget = sqlTarget
    this.tables = tableNames(sqlTarget.prefix)
    this.sql = statements(this.tables)
    this.timeoutMs = timeoutMs
    this.pool = mysql.createPool({
      host: sqlTarget.host,
      port: sqlTarget.port,
      user: sqlTarget.user,
      password,
      database: sqlTarget.database,
      charset: 'utf8mb4',
      // One batch is in flight at a time; a second connection only covers a reconnect.
      connectionLimit: 2,
      // A batch's writes and its COMMIT go in one round trip; every value is escaped by the driver.
      multipleStatements: true,
      maxIdle: 1,
      connectTimeout: timeoutMs,
    })
    // Runs before any other query on the new connection: a connection queues its commands. The
    // event hands over the driver's callback connection, whatever the promise wrapper's types say.
    this.pool.on('connection', (conn) => {
      (conn as unknown as { query: (sql: string, done: () => void) => void }).query(SESSION_SETUP, () => {})
    })
    this.queue = new BatchQueue(this, { tries: options.tries, retryDelayMs: options.retryDelayMs })
  }

  static async create (target: string, options: HandlerOptions): Promise<MysqlHandler> {
    const sqlTarget = parseSqlTarget(target)
    return new MysqlHandler(sqlTarget, await resolvePassword(sqlTarget), options)
  }

  /** Buffers the record, written by a background transaction; 'done' is taken back by flush if the database refuses it. */
  handle (record: NormalisedCallback): HandlerOutcome {
    this.queue.add(rowOf(record), record)
    return DONE
  }

  private query<T = unknown> (conn: mysql.PoolConnection, sql: string, values?: unknown[]): Promise<T> {
    return conn.query(sql, values).then(([rows]) => rows as T)
  }

  /**
   * One batch, within the handler timeout. The driver's own query timeout is not used: its timer
   * outlives a connection killed mid-query and keeps the process alive that long after the pass.
   */
  async write (rows: MysqlRow[]): Promise<void> {
    let conn: mysql.PoolConnection | undefined
    let timer: NodeJS.Timeout | undefined
    let timedOut = false
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true
        conn?.destroy()
        reject(new Error(`timed out after ${this.timeoutMs} ms`))
      }, this.timeoutMs)
    })
    const work = (async () => {
      conn = await this.pool.getConnection()
      await this.writeOn(conn, rows, () => timedOut)
    })()
    try {
      await Promise.race([work, timeout])
    } finally {
      clearTimeout(timer)
      work.catch(() => {})
    }
  }

  private async writeOn (conn: mysql.PoolConnection, rows: MysqlRow[], timedOut: () => boolean): Promise<void> {
    let fatal = false
    try {
      if (!this.schemaChecked) await this.ensureSchema(conn)
      // Two round trips per batch: the ids already there, then every write and the commit in one
      // go (a statement that fails stops the rest, and the transaction is rolled back).
      try {
        const keys = rows.flatMap((r) => r.dedupeKey === null ? [] : [r.dedupeKey])
        const [results] = await conn.query(`START TRANSACTION; ${this.sql.existing}`, [rows.map((r) => r.id), keys.length === 0 ? [null] : keys])
        const existing = (results as unknown[])[1] as Array<{ id: string, dedupe_key: string | null }>
        const known = new Set(existing.map((r) => r.id))
        const knownKeys = new Set(existing.flatMap((r) => r.dedupe_key === null ? [] : [r.dedupe_key]))
        // Not there yet, and the first of the batch with its key (a re-send inserts nothing).
        const fresh = rows.filter((r) => {
          if (known.has(r.id)) return false
          if (r.dedupeKey === null) return true
          if (knownKeys.has(r.dedupeKey)) return false
          knownKeys.add(r.dedupeKey)
          return true
        })
        const writes: string[] = []
        if (fresh.length > 0) {
          writes.push(mysql.format(this.sql.callbacks, [fresh.map((r) => r.values)]))
          // Per number, the latest opt-out or opt-in decides: an opt-out is upserted unless an opt-in at
          // or after its time is in `callback_optins` (from an earlier batch: it is written last), an
          // opt-in removes an older opt-out. The batch's latest opt-in per number is kept in `callback_optins`.
          const latest = latestBy(fresh.filter((r) => r.kind === 'optout' || r.kind === 'optin'), (r) => r.number, (a, b) => optedOutAt(b) >= optedOutAt(a))
          const optouts = latest.filter((r) => r.kind === 'optout')
          if (optouts.length > 0) {
            writes.push(this.sql.optouts(optouts.map((r, i) =>
              mysql.format(i === 0 ? 'SELECT ? AS n, CAST(? AS DATETIME(3)) AS at, ? AS rid' : 'SELECT ?, CAST(? AS DATETIME(3)), ?', [r.number, optedOutAt(r), r.id])).join(' UNION ALL ')))
          }
          const optins = latest.filter((r) => r.kind === 'optin')
          if (optins.length > 0) {
            writes.push(this.sql.optins + optins.map((r) => mysql.format('(`number` = ? AND `opted_out_at` <= ?)', [r.number, optedOutAt(r)])).join(' OR '))
          }
          const latestOptins = latestBy(fresh.filter((r) => r.kind === 'optin'), (r) => r.number, (a, b) => optedOutAt(b) >= optedOutAt(a))
          if (latestOptins.length > 0) writes.push(mysql.format(this.sql.latestOptins, [latestOptins.map((r) => [r.number, optedOutAt(r), r.id])]))
          const deliveries = latestBy(fresh.filter((r) => r.kind === 'delivery' && r.number !== null),
            (r) => r.messageId === null ? null : JSON.stringify([r.messageId, r.number]), newerDelivery)
          if (deliveries.length > 0) writes.push(mysql.format(this.sql.deliveries, [deliveries.map((r) => [r.messageId, r.number, r.status, r.eventTime, r.id])]))
        }
        writes.push('COMMIT')
        await conn.query(writes.join(';\n'))
      } catch (err) {
        await conn.rollback().catch(() => {})
        throw err
      }
    } catch (err) {
      fatal = (err as { fatal?: unknown }).fatal === true
      // A table dropped under us: create it again before the next try.
      if ((err as { errno?: unknown }).errno === 1146) this.schemaChecked = false
      throw err
    } finally {
      if (fatal || timedOut()) conn.destroy()
      else conn.release()
    }
  }

  isDataError (err: unknown): boolean {
    const errno = (err as { errno?: unknown }).errno
    return typeof errno === 'number' && DATA_ERRNOS.has(errno)
  }

  describe (err: unknown): string {
    const e = err as { code?: unknown, message?: unknown }
    const message = withoutQuotedValues(String(e.message ?? err))
    return typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message
  }

  sizeOf (row: MysqlRow): number {
    return row.size
  }

  /**
   * Creates the missing tables under a named lock (GET_LOCK), so that two processors starting
   * together do not race. MySQL commits each CREATE TABLE at once: no transaction can hold them.
   */
  private async ensureSchema (conn: mysql.PoolConnection): Promise<void> {
    const names = [this.tables.callbacks, this.tables.optouts, this.tables.optins, this.tables.deliveries, this.tables.schema]
    const present = await this.query<Array<{ n: number }>>(conn,
      'SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name IN (?)', [names])
    const readVersion = async (): Promise<number | null> =>
      (await this.query<Array<{ v: number | null }>>(conn, `SELECT MAX(\`version\`) AS v FROM \`${this.tables.schema}\``))[0]!.v
    let version = Number(present[0]!.n) === names.length ? await readVersion() : null
    if (version === null || version < SCHEMA_VERSION) {
      // Lock names are at most 64 characters.
      const lock = 'callback-spool:' + createHash('sha256').update(`${this.sqlTarget.database}\0${this.sqlTarget.prefix}`).digest('hex').slice(0, 40)
      const got = await this.query<Array<{ got: number | null }>>(conn, 'SELECT GET_LOCK(?, ?) AS got', [lock, Math.ceil(this.timeoutMs / 1000)])
      if (got[0]!.got !== 1) throw new Error(`timed out waiting for the lock that guards the creation of the tables at ${this.target}`)
      try {
        for (const statement of mysqlTableStatements(this.sqlTarget.prefix)) await this.query(conn, statement)
        // Version 1's `callbacks`: CREATE TABLE IF NOT EXISTS left it as it was.
        const has = await this.query<Array<{ c: number, i: number }>>(conn,
          `SELECT (SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'dedupe_key') AS c,
            (SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = ? AND index_name = 'dedupe_key') AS i`,
          [this.tables.callbacks, this.tables.callbacks])
        for (const statement of mysqlMigration(this.sqlTarget.prefix, { column: Number(has[0]!.c) > 0, index: Number(has[0]!.i) > 0 })) await this.query(conn, statement)
      } finally {
        await this.query(conn, 'SELECT RELEASE_LOCK(?)', [lock]).catch(() => {})
      }
      version = await readVersion()
    }
    checkSchemaVersion(version, this.target)
    this.schemaChecked = true
  }

  protected async endPool (): Promise<void> {
    await this.pool.end()
  }
}
