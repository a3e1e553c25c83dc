/**
 * Schema version 3's migration of older tables, against the real servers (each test in a database
 * of its own; without a server the suite says so in one line and skips, fails with CI=true):
 * `callback_optins` is filled from the opt-ins already in `callbacks`, the numbers whose opt-out is
 * not newer than that opt-in leave `callback_optouts`, and a late STOP older than such an opt-in
 * then stays out; all of it once.
 */
import { describe, test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { MysqlHandler } from '../../src/processor/handlers/mysql.js'
import { PostgresHandler } from '../../src/processor/handlers/postgres.js'
import type { Handler } from '../../src/processor/handler.js'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { mysqlTableStatements, SCHEMA_VERSION, schemaStatements } from '../../src/processor/sql/schema.js'
import { newRecordId, type SpoolRecord } from '../../src/record.js'
import { recordWithFields } from '../helpers/records.js'
import { reachServer, testDatabase, type Dialect, type Row, type SqlServer, type TestDatabase } from '../helpers/sql-servers.js'

const servers: Record<Dialect, SqlServer | undefined> = { postgres: await reachServer('postgres'), mysql: await reachServer('mysql') }
const time = new ZonedTimeReader('Europe/Paris')

/** 2026-06-01 at HH:MM UTC. */
const at = (hhmm: string): Date => new Date(`2026-06-01T${hhmm}:00.000Z`)

/** A start of the target: a handler of its own, whose first write creates or migrates the tables. */
async function start (t: TestContext, db: TestDatabase): Promise<Handler> {
  const handler = db.dialect === 'postgres' ? await PostgresHandler.create(db.url, { timeoutMs: 10_000 }) : await MysqlHandler.create(db.url, { timeoutMs: 10_000 })
  t.after(async () => { await handler.close?.() })
  return handler
}

/** Hands the records over together (one batch), then waits until they are committed. */
async function write (handler: Handler, records: SpoolRecord[]): Promise<void> {
  for (const record of records) assert.deepEqual(handler.handle(normaliseCallback(record, time)), { outcome: 'done' })
  assert.deepEqual(await handler.flush?.(), [])
}

/** A Twilio incoming message with Advanced Opt-Out's OptOutType: no event time, dated by received_at. */
function twilioOpt (sid: string, from: string, type: 'STOP' | 'START', date: Date): SpoolRecord {
  return recordWithFields({ MessageSid: sid, AccountSid: 'AC1', From: from, To: '+15558675310', Body: type, OptOutType: type }, date)
}

function twilioStatus (sid: string, date: Date): SpoolRecord {
  return recordWithFields({ MessageSid: sid, AccountSid: 'AC1', From: '+15558675310', To: '+15550000099', MessageStatus: 'delivered' }, date)
}

/**
 * Tables of an older version, from this release's statements: no `callback_optins`, the version
 * recorded; version 1 has no `callbacks.dedupe_key` either.
 */
async function olderTables (db: TestDatabase, version: 1 | 2): Promise<void> {
  for (const statement of schemaStatements(db.dialect, '')) await db.query(statement)
  await db.query('DROP TABLE callback_optins')
  if (version === 1) await db.query('ALTER TABLE callbacks DROP COLUMN dedupe_key')
  await db.query(`UPDATE callback_schema SET version = ${version}`)
}

interface CallbackRow { id: string, kind: string, number: string | null, receivedAt: Date, eventTime: Date | null }

/** A row as the handlers of that version wrote it into `callbacks` (the columns that matter here). */
async function insertCallback (db: TestDatabase, row: CallbackRow): Promise<void> {
  const lit = (d: Date | null): string => d === null ? 'NULL' : `'${db.dialect === 'postgres' ? d.toISOString() : d.toISOString().slice(0, 23).replace('T', ' ')}'`
  await db.query(`INSERT INTO callbacks (id, kind, received_at, event_time, number, fields)
    VALUES ('${row.id}', '${row.kind}', ${lit(row.receivedAt)}, ${lit(row.eventTime)}, ${row.number === null ? 'NULL' : `'${row.number}'`}, '{}')`)
}

async function insertOptout (db: TestDatabase, number: string, optedOutAt: Date, recordId: string): Promise<void> {
  const when = db.dialect === 'postgres' ? optedOutAt.toISOString() : optedOutAt.toISOString().slice(0, 23).replace('T', ' ')
  await db.query(`INSERT INTO callback_optouts (number, opted_out_at, record_id) VALUES ('${number}', '${when}', '${recordId}')`)
}

/** The state tables and the versions recorded; with PostgreSQL, xmin shows a row rewritten with the same values. */
async function state (db: TestDatabase): Promise<{ optins: Row[], optouts: Row[], versions: number[] }> {
  const xmin = db.dialect === 'postgres' ? ', xmin::text AS xmin' : ''
  return {
    optins: await db.query(`SELECT number, opted_in_at, record_id${xmin} FROM callback_optins ORDER BY number`),
    optouts: await db.query(`SELECT number, opted_out_at, record_id${xmin} FROM callback_optouts ORDER BY number`),
    versions: (await db.query('SELECT version FROM callback_schema ORDER BY version')).map((r) => Number(r.version)),
  }
}

const triples = (rows: Row[], column: string): unknown[] => rows.map((r) => [r.number, r[column], r.record_id])

for (const dialect of ['postgres', 'mysql'] as const) {
  const server = servers[dialect]
  const skip = server === undefined ? `no ${dialect} server (see the line above)` : false

  describe(`${dialect} target: schema version 3's migration fills callback_optins`, { skip }, () => {
    test('tables of version 2: each number\'s latest opt-in backfilled, stale opt-outs dropped; a late STOP then stays out; once', async (t) => {
      const db = await testDatabase(t, server!)
      await olderTables(db, 2)
      // What version 2 wrote, in spool order (ids increasing): the rows are inserted in reverse.
      const [n1, n2, n3, n4, n5, n9] = ['+15550000001', '+15550000002', '+15550000003', '+15550000004', '+15550000005', '+15550000009']
      const row = (kind: string, number: string | null, received: string, event: string | null): CallbackRow =>
        ({ id: newRecordId(), kind, number, receivedAt: at(received), eventTime: event === null ? null : at(event) })
      const spool = {
        n1Older: row('optin', n1, '08:00', '08:00'),
        n1Start: row('optin', n1, '10:01', '10:00'),
        // No readable event time: dated by received_at, 11:00, after the one the provider dated 10:30.
        n2Undated: row('optin', n2, '11:00', null),
        n2Dated: row('optin', n2, '11:30', '10:30'),
        // The same time: the later in the spool wins.
        n3First: row('optin', n3, '10:05', '10:00'),
        n3Second: row('optin', n3, '10:06', '10:00'),
        // A START, then a late STOP older than it, which version 2 put in callback_optouts.
        n4Start: row('optin', n4, '10:00', '10:00'),
        n4LateStop: row('optout', n4, '12:00', '09:00'),
        // A START, then a newer STOP: the number stays opted out.
        n5Start: row('optin', n5, '10:00', '10:00'),
        n5Stop: row('optout', n5, '12:00', '12:00'),
        n9Stop: row('optout', n9, '09:00', '09:00'),
        noNumber: row('optin', null, '13:00', '13:00'),
        reply: row('reply', n9, '14:00', '14:00'),
      }
      for (const r of Object.values(spool).reverse()) await insertCallback(db, r)
      await insertOptout(db, n4, at('09:00'), spool.n4LateStop.id)
      await insertOptout(db, n5, at('12:00'), spool.n5Stop.id)
      await insertOptout(db, n9, at('09:00'), spool.n9Stop.id)

      // The first start migrates the tables.
      const first = await start(t, db)
      await write(first, [twilioStatus('SMs1', at('15:00'))])
      const migrated = await state(db)
      assert.deepEqual(migrated.versions, [2, SCHEMA_VERSION])
      assert.deepEqual(triples(migrated.optins, 'opted_in_at'), [
        [n1, at('10:00').toISOString(), spool.n1Start.id],
        [n2, at('11:00').toISOString(), spool.n2Undated.id],
        [n3, at('10:00').toISOString(), spool.n3Second.id],
        [n4, at('10:00').toISOString(), spool.n4Start.id],
        [n5, at('10:00').toISOString(), spool.n5Start.id],
      ])
      assert.deepEqual(triples(migrated.optouts, 'opted_out_at'), [
        [n5, at('12:00').toISOString(), spool.n5Stop.id],
        [n9, at('09:00').toISOString(), spool.n9Stop.id],
      ])

      // A late STOP dated 09:00, older than the START of 10:00 written by version 2: the number stays out.
      const lateStop = twilioOpt('SMl1', n1, 'STOP', at('09:00'))
      await write(first, [lateStop])
      assert.equal((await db.query(`SELECT id FROM callbacks WHERE id = '${lateStop.id}'`)).length, 1)
      assert.deepEqual((await state(db)).optouts.map((r) => r.number), [n5, n9])
      // A START and a STOP at the same time in one batch: the later in the spool, the STOP, wins. A
      // second run of the migration would drop the number again.
      const n10 = '+15550000010'
      await write(first, [twilioOpt('SMt1', n10, 'START', at('09:30')), twilioOpt('SMt2', n10, 'STOP', at('09:30'))])
      const before = await state(db)
      assert.deepEqual(before.optouts.map((r) => r.number), [n5, n9, n10])

      // A second start, and the statements run again as the second of two processors starting
      // together runs them (it read version 2 before it took the lock): nothing changes.
      const second = await start(t, db)
      await write(second, [twilioStatus('SMs2', at('16:00'))])
      assert.deepEqual(await state(db), before)
      for (const statement of schemaStatements(dialect, '')) await db.query(statement)
      assert.deepEqual(await state(db), before)
    })

    test('tables of version 1 (no dedupe_key): the opt-ins backfilled, and a number whose START came after its STOP leaves callback_optouts', async (t) => {
      const db = await testDatabase(t, server!)
      await olderTables(db, 1)
      const n = '+15550000001'
      // Version 1 kept opt-outs only: a START after the STOP left the number in callback_optouts.
      const stop = { id: newRecordId(), kind: 'optout', number: n, receivedAt: at('09:00'), eventTime: at('09:00') }
      const startRow = { id: newRecordId(), kind: 'optin', number: n, receivedAt: at('10:00'), eventTime: at('10:00') }
      await insertCallback(db, stop)
      await insertCallback(db, startRow)
      await insertOptout(db, n, at('09:00'), stop.id)

      const handler = await start(t, db)
      await write(handler, [twilioStatus('SMs1', at('15:00'))])
      const migrated = await state(db)
      assert.deepEqual(migrated.versions, [1, SCHEMA_VERSION])
      assert.deepEqual(triples(migrated.optins, 'opted_in_at'), [[n, at('10:00').toISOString(), startRow.id]])
      assert.deepEqual(migrated.optouts, [])
      assert.equal((await db.query('SELECT dedupe_key FROM callbacks WHERE dedupe_key IS NOT NULL')).length, 1)
    })
  })
}

describe('MySQL/MariaDB: a migration cut short', { skip: servers.mysql === undefined ? 'no mysql server (see the line above)' : false }, () => {
  test('its CREATE TABLE statements record no version: a start that dies before version 1\'s column is added is run again in full by the next', async (t) => {
    const db = await testDatabase(t, servers.mysql!)
    await olderTables(db, 1)
    // What the handler runs before it adds the column, then a crash.
    for (const statement of mysqlTableStatements('')) await db.query(statement)
    assert.deepEqual((await state(db)).versions, [1])
    assert.equal((await db.query("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'callbacks' AND column_name = 'dedupe_key'")).length, 0)

    const handler = await start(t, db)
    await write(handler, [twilioStatus('SMs1', at('15:00'))])
    assert.deepEqual((await state(db)).versions, [1, SCHEMA_VERSION])
    assert.equal((await db.query('SELECT dedupe_key FROM callbacks WHERE dedupe_key IS NOT NULL')).length, 1)
  })
})
