/**
 * `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (also `postgresql://`): records are buffered and
 * written in the background (sql/batch-queue.ts); each batch is one statement, so one transaction
 * and one round trip: the records go in as one JSON array, new
 * ids are inserted into `callbacks` (an id or a `dedupe_key` already there is left as it is), and
 * only those new rows update `callback_optouts`, `callback_optins` and `callback_deliveries`.
 */
import pg from 'pg'
import { DONE, type Handler, type HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'
import { BatchQueue, withoutQuotedValues, type BatchWriter } from '../sql/batch-queue.js'
import { QueuedSqlHandler } from '../sql/queued-handler.js'
import { checkSchemaVersion, SCHEMA_VERSION, schemaStatements, tableNames, type TableNames } from '../sql/schema.js'
import { parseSqlTarget, resolvePassword, type SqlTarget } from '../sql/target-url.js'
import type { HandlerOptions } from '../targets.js'

/** SQLSTATE classes and codes that blame a value: data exception (22), NOT NULL and CHECK violations. */
function isPostgresDataError (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('22') || code === '23502' || code === '23514')
}

function describe (err: unknown): string {
  const e = err as { code?: unknown, message?: unknown }
  const message = withoutQuotedValues(String(e.message ?? err))
  return typeof e.code === 'string' && !message.includes(e.code) ? `${e.code}: ${message}` : message
}

/**
 * Newest record wins within a batch (`s`, its order of arrival); the database's rows by time. A
 * row whose id or `dedupe_key` is already there (a re-send, or a record handed over again after a
 * crash) is not inserted, and only the rows inserted change the state tables. Per number, the
 * latest opt-out or opt-in of the batch decides: an opt-out newer than the row replaces it unless
 * an opt-in at or after its time is in `callback_optins` (from an earlier batch), an opt-in newer
 * than the row removes it. The batch's latest opt-in per number goes into `callback_optins` (the
 * newest kept). Every CTE sees the tables as they were before the statement.
 */
function batchSql (t: TableNames): string {
  return `WITH input AS (
  SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(s bigint, id uuid, kind text, received_at timestamptz,
    event_time timestamptz, message_id text, number text, status text, text text, fields jsonb, dedupe_key text)
), inserted AS (
  INSERT INTO ${t.callbacks} (id, kind, received_at, event_time, message_id, number, status, text, fields, dedupe_key)
  SELECT id, kind, received_at, event_time, message_id, number, status, text, fields, dedupe_key FROM input ORDER BY s
  ON CONFLICT DO NOTHING
  RETURNING id
), fresh AS (
  SELECT input.* FROM input JOIN inserted USING (id)
), latest AS (
  SELECT DISTINCT ON (number) number, kind, coalesce(event_time, received_at) AS at, id FROM fresh
  WHERE kind IN ('optout', 'optin') AND number IS NOT NULL
  ORDER BY number, coalesce(event_time, received_at) DESC, s DESC
), latest_optin AS (
  SELECT DISTINCT ON (number) number, coalesce(event_time, received_at) AS at, id FROM fresh
  WHERE kind = 'optin' AND number IS NOT NULL
  ORDER BY number, coalesce(event_time, received_at) DESC, s DESC
), optin_rows AS (
  INSERT INTO ${t.optins} AS cur (number, opted_in_at, record_id)
  SELECT number, at, id FROM latest_optin
  ON CONFLICT (number) DO UPDATE SET opted_in_at = EXCLUDED.opted_in_at, record_id = EXCLUDED.record_id
  WHERE EXCLUDED.opted_in_at >= cur.opted_in_at
), optouts AS (
  INSERT INTO ${t.optouts} AS cur (number, opted_out_at, record_id)
  SELECT number, at, id FROM latest WHERE kind = 'optout'
    AND NOT EXISTS (SELECT 1 FROM ${t.optins} AS o WHERE o.number = latest.number AND o.opted_in_at >= latest.at)
  ON CONFLICT (number) DO UPDATE SET opted_out_at = EXCLUDED.opted_out_at, record_id = EXCLUDED.record_id
  WHERE EXCLUDED.opted_out_at >= cur.opted_out_at
), optins AS (
  DELETE FROM ${t.optouts} AS cur USING latest
  WHERE latest.kind = 'optin' AND cur.number = latest.number AND cur.opted_out_at <= latest.at
)
INSERT INTO ${t.deliveries} AS cur (message_id, number, status, event_time, record_id)
SELECT DISTINCT ON (message_id, number) message_id, number, status, event_time, id FROM fresh
WHERE kind = 'delivery' AND message_id IS NOT NULL AND number IS NOT NULL
ORDER BY message_id, number, event_time DESC NULLS LAST, s DESC
ON CONFLICT (message_id, number) DO UPDATE
  SET status = EXCLUDED.status, event_time = EXCLUDED.event_time, record_id = EXCLUDED.record_id
  WHERE cur.event_time IS NULL OR EXCLUDED.event_time >= cur.event_time`
}

export class PostgresHandler extends QueuedSqlHandler<string> implements Handler, BatchWriter<string> {
  readonly target: string
  private readonly sqlTarget: SqlTarget
  private readonly pool: pg.Pool
  protected readonly queue: BatchQueue<string>
  private readonly tables: TableNames
  private readonly insertSql: string
  private schemaChecked = false
  private seq = 0

  private constructor (sqlTarget: SqlTarget, password: string | undefined, options: HandlerOptions) {
    super()
    const timeoutMs = options.timeoutMs
    this.target = sqlTarget.display
    this.sqlTarget = sqlTarget
    this.tables = tableNames(sqlTarget.prefix)
    this.insertSql = batchSql(this.tables)
    this.pool = new pg.Pool({
      host: sqlTarget.host,
      port: sqlTarget.port,
      user: sqlTarget.user,
      password,
      database: sqlTarget.database,
      // One batch is in flight at a time; a second connection only covers a reconnect.
      max: 2,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      idleTimeoutMillis: 30_000,
      application_name: 'callback-spool',
    })
    // An idle connection the server closed (restart, pg_terminate_backend): the pool drops it and
    // the next batch connects again. Without a listener the error would end the process.
    this.pool.on('error', () => {})
    this.queue = new BatchQueue(this, { tries: options.tries, retryDelayMs: options.retryDelayMs })
  }

  static async create (target: string, options: HandlerOptions): Promise<PostgresHandler> {
    const sqlTarget = parseSqlTarget(target)
    return new PostgresHandler(sqlTarget, await resolvePassword(sqlTarget), options)
  }

  /** Buffers the record, written by a background transaction; 'done' is taken back by flush if the database refuses it. */
  handle (record: NormalisedCallback): HandlerOutcome {
    this.queue.add(JSON.stringify({
      s: this.seq++,
      id: record.id,
      kind: record.kind,
      received_at: record.received_at,
      event_time: record.event_time,
      message_id: record.message_id,
      number: record.number,
      status: record.status ?? null,
      text: record.text ?? null,
      fields: record.fields,
      dedupe_key: record.dedupe_key ?? null,
    }), record)
    return DONE
  }

  async write (rows: string[]): Promise<void> {
    if (!this.schemaChecked) await this.ensureSchema()
    try {
      // Named: parsed and planned once per connection, not once per batch.
      await this.pool.query({ name: 'callback-spool-batch', text: this.insertSql, values: [`[${rows.join(',')}]`] })
    } catch (err) {
      // A table dropped under us: create it again before the next try.
      if ((err as { code?: unknown }).code === '42P01') this.schemaChecked = false
      throw err
    }
  }

  isDataError (err: unknown): boolean {
    return isPostgresDataError(err)
  }

  describe (err: unknown): string {
    return describe(err)
  }

  sizeOf (row: string): number {
    return row.length
  }

  /** Creates the missing tables in one transaction, under an advisory lock so that two processors starting together do not race. */
  private async ensureSchema (): Promise<void> {
    const client = await this.pool.connect()
    let broken: Error | undefined
    try {
      const names = [this.tables.callbacks, this.tables.optouts, this.tables.optins, this.tables.deliveries, this.tables.schema]
      const present = await client.query<{ n: string }>('SELECT count(to_regclass(name)) AS n FROM unnest($1::text[]) AS name', [names])
      const readVersion = async (): Promise<number | null> =>
        (await client.query<{ v: number | null }>(`SELECT max(version) AS v FROM ${this.tables.schema}`)).rows[0]!.v
      let version = Number(present.rows[0]!.n) === names.length ? await readVersion() : null
      // Missing tables, or tables of an older version: created or migrated (the statements are idempotent).
      if (version === null || version < SCHEMA_VERSION) {
        await client.query('BEGIN')
        try {
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`callback-spool schema ${this.sqlTarget.prefix}`])
          for (const statement of schemaStatements('postgres', this.sqlTarget.prefix)) await client.query(statement)
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK').catch(() => {})
          throw err
        }
        version = await readVersion()
      }
      checkSchemaVersion(version, this.target)
      this.schemaChecked = true
    } catch (err) {
      broken = err as Error
      throw err
    } finally {
      client.release(broken)
    }
  }

  protected async endPool (): Promise<void> {
    await this.pool.end()
  }
}
