/**
 * The PostgreSQL and MariaDB/MySQL targets against the real servers: each test in a database of
 * its own. Without a server the suite says so in one line and skips (fails with CI=true).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand } from '../../src/processor/run.js'
import { loadCheckpoint } from '../../src/spool/checkpoint.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { PostgresHandler } from '../../src/processor/handlers/postgres.js'
import { MysqlHandler } from '../../src/processor/handlers/mysql.js'
import type { Handler } from '../../src/processor/handler.js'
import { runReplay } from '../../src/tools/replay.js'
import { newRecordId, type SpoolRecord } from '../../src/record.js'
import { SCHEMA_VERSION, schemaScript, schemaStatements } from '../../src/processor/sql/schema.js'
import { loadFixtures } from '../helpers/fixtures.js'
import { fixtureRecord, lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { capturingLogger, silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { readNdjson } from '../helpers/ndjson.js'
import { captureIO } from '../helpers/tool-io.js'
import { waitFor } from '../helpers/wait.js'
import { reachServer, testDatabase, type Dialect, type Row, type SqlServer, type TestDatabase } from '../helpers/sql-servers.js'
import { dataLayout } from '../../src/spool/layout.js'

const noSignals = (): void => {}
const servers: Record<Dialect, SqlServer | undefined> = { postgres: await reachServer('postgres'), mysql: await reachServer('mysql') }
const time = new ZonedTimeReader('Europe/Paris')

function createHandler (db: TestDatabase, url = db.url): Promise<Handler> {
  return db.dialect === 'postgres' ? PostgresHandler.create(url, { timeoutMs: 10_000 }) : MysqlHandler.create(url, { timeoutMs: 10_000 })
}

/** Hands the records over together, then flushes: the outcome of each, 'dead' for those refused at flush. */
async function handTogether (handler: Handler, records: SpoolRecord[]): Promise<Array<{ outcome: string }>> {
  const normalised = records.map((r) => normaliseCallback(r, time))
  const outcomes = normalised.map((n) => handler.handle(n))
  const refused = (await handler.flush?.()) ?? []
  const refusedIds = new Set(refused.map((r) => r.record.id))
  return outcomes.map((o, i) => refusedIds.has(normalised[i]!.id) ? { outcome: 'dead', error: refused.find((r) => r.record.id === normalised[i]!.id)!.error } : o as { outcome: string })
}

async function pass (dir: string, db: TestDatabase, overrides: Parameters<typeof processorOptions>[1] = {}): Promise<number> {
  return await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=${db.url}`)], ...overrides }), silentLogger(), noSignals)
}

async function deadLetters (dir: string): Promise<Array<Record<string, unknown>>> {
  const files = await readdir(join(dir, 'dead')).catch(() => [])
  return (await Promise.all(files.map((f) => readNdjson(join(dir, 'dead', f))))).flat()
}

async function tables (db: TestDatabase): Promise<{ callbacks: Row[], optouts: Row[], deliveries: Row[] }> {
  // xmin: the transaction that last wrote the row; a row rewritten with the same values shows a new one.
  const version = db.dialect === 'postgres' ? ', xmin::text AS xmin' : ''
  return {
    callbacks: await db.query(`SELECT id, kind, received_at, event_time, message_id, number, status, text, fields${version} FROM callbacks ORDER BY id`),
    optouts: await db.query(`SELECT number, opted_out_at, record_id${version} FROM callback_optouts ORDER BY number`),
    deliveries: await db.query(`SELECT message_id, number, status, event_time, record_id${version} FROM callback_deliveries ORDER BY message_id, number`),
  }
}

/** Every fixture, in name order, as the receiver would have spooled it. */
async function fixtureRecords (): Promise<SpoolRecord[]> {
  const out: SpoolRecord[] = []
  for (const f of loadFixtures()) out.push(await fixtureRecord(f.name))
  return out
}

function delivery (messageId: string, status: string, date: string | undefined, number = '+33600112233'): SpoolRecord {
  return recordWithFields({ message_id: messageId, number, status, ...(date === undefined ? {} : { delivery_date: date }) })
}

async function assertFixtureRows (db: TestDatabase, records: SpoolRecord[]): Promise<void> {
  const { callbacks, optouts, deliveries } = await tables(db)
  assert.equal(callbacks.length, records.length)
  const byId = new Map(callbacks.map((r) => [r.id, r]))
  for (const record of records) {
    const n = normaliseCallback(record, time)
    const row = byId.get(record.id)
    assert.ok(row, `row for ${record.id}`)
    assert.deepEqual({ ...row, xmin: undefined }, {
      id: n.id,
      kind: n.kind,
      received_at: new Date(n.received_at).toISOString(),
      event_time: n.event_time === null ? null : new Date(n.event_time).toISOString(),
      message_id: n.message_id,
      number: n.number,
      status: n.status ?? null,
      text: n.text ?? null,
      fields: { ...n.fields },
      xmin: undefined,
    })
  }
  const names = loadFixtures().map((f) => f.name)
  const idOf = (name: string): string => records[names.indexOf(name)]!.id
  // Both opt-outs of +33600000000 have the same time: the later one in the spool wins.
  assert.deepEqual(optouts.map((r) => ({ ...r, xmin: undefined })), [
    { number: '+33600000000', opted_out_at: '2020-11-04T10:11:45.000Z', record_id: idOf('optout-json.http'), xmin: undefined },
  ])
  assert.deepEqual(deliveries.map((r) => ({ ...r, xmin: undefined })), [
    { message_id: 'sms_5fa275dbf21dc', number: '+33600112233', status: 'delivered', event_time: '2020-11-04T10:11:45.000Z', record_id: idOf('delivery-json.http'), xmin: undefined },
    { message_id: 'vsms_61aa2b00c1e2f', number: '+33600112233', status: 'failed', event_time: '2021-12-03T13:02:10.000Z', record_id: idOf('voice-delivery-json.http'), xmin: undefined },
  ])
}

for (const dialect of ['postgres', 'mysql'] as const) {
  const server = servers[dialect]
  const skip = server === undefined ? `no ${dialect} server (see the line above)` : false
  const fresh = (t: Parameters<typeof testDatabase>[0]): Promise<TestDatabase> => testDatabase(t, server!)

  describe(`${dialect} target`, { skip }, () => {
    test('every fixture through a pass: one row each in callbacks, the latest opt-out and delivery status, the schema version', async (t) => {
      const db = await fresh(t)
      const dir = await tempDir(t)
      const records = await fixtureRecords()
      await writeSegment(dir, 1, lines(records))
      assert.equal(await pass(dir, db), 0)
      await assertFixtureRows(db, records)
      assert.deepEqual((await db.query('SELECT version FROM callback_schema')).map((r) => Number(r.version)), [SCHEMA_VERSION])
      assert.deepEqual(await deadLetters(dir), [])
    })

    test('records handed over together are written as one batch, with the same rows as one at a time', async (t) => {
      const db = await fresh(t)
      const records = await fixtureRecords()
      const handler = await createHandler(db)
      t.after(() => handler.close?.())
      const outcomes = await handTogether(handler, records)
      assert.deepEqual(outcomes, records.map(() => ({ outcome: 'done' })))
      await assertFixtureRows(db, records)
      if (dialect === 'postgres') {
        const { callbacks } = await tables(db)
        assert.equal(new Set(callbacks.map((r) => r.xmin)).size, 1, 'one transaction')
      }
    })

    test('while a commit is in flight, what is handed over is held until it ends; dropped if it fails', async (t) => {
      const db = await fresh(t)
      const handler = await createHandler(db)
      t.after(() => handler.close?.())
      for (const statement of schemaStatements(dialect, '')) await db.query(statement)
      const ids = async (): Promise<string[]> => (await db.query('SELECT message_id FROM callbacks ORDER BY message_id')).map((r) => String(r.message_id))
      handler.handle(normaliseCallback(delivery('a', 'SENT', undefined), time))
      let commitDone!: () => void
      handler.holdOutputUntil!(new Promise<void>((resolve) => { commitDone = resolve }))
      handler.handle(normaliseCallback(delivery('b', 'SENT', undefined), time))
      await waitFor('the record before the hold written', async () => (await ids()).includes('a'), 30_000)
      assert.deepEqual(await ids(), ['a'])
      commitDone()
      assert.deepEqual(await handler.flush!(), [])
      assert.deepEqual(await ids(), ['a', 'b'])

      handler.holdOutputUntil!(Promise.reject(new Error('the commit failed')))
      handler.handle(normaliseCallback(delivery('c', 'SENT', undefined), time))
      assert.deepEqual(await handler.flush!(), [])
      assert.deepEqual(await ids(), ['a', 'b'])
    })

    test('the tables: created once by two processors starting together, with a prefix; or beforehand from `db schema`', async (t) => {
      const db = await fresh(t)
      const url = `${db.url}?prefix=sms_`
      const handlers = [await createHandler(db, url), await createHandler(db, url)]
      t.after(async () => { for (const h of handlers) await h.close?.() })
      const outcomes = (await Promise.all(handlers.map((h, i) => handTogether(h, [delivery(`m${i}`, 'SENT', undefined)])))).flat()
      assert.deepEqual(outcomes.map((o) => o.outcome), ['done', 'done'])
      assert.equal((await db.query('SELECT id FROM sms_callbacks')).length, 2)
      assert.deepEqual((await db.query('SELECT version FROM sms_callback_schema')).map((r) => Number(r.version)), [SCHEMA_VERSION])
      assert.deepEqual(await db.query('SELECT number FROM sms_callback_optins'), [])
      await assert.rejects(db.query('SELECT 1 FROM callbacks'))
      await assert.rejects(db.query('SELECT 1 FROM callback_optins'))

      const byHand = await fresh(t)
      const script = schemaScript(dialect, '')
      // The mysql client runs a script statement by statement; so does this test.
      for (const statement of dialect === 'postgres' ? [script] : script.split(/;\n\n?/).filter((s) => s.trim() !== '')) await byHand.query(statement)
      const handler = await createHandler(byHand)
      t.after(() => handler.close?.())
      assert.deepEqual(await handTogether(handler, [delivery('m', 'SENT', undefined)]), [{ outcome: 'done' }])
      assert.deepEqual((await byHand.query('SELECT version FROM callback_schema')).map((r) => Number(r.version)), [SCHEMA_VERSION])
    })

    test('replay --all then a pass, or an old record handed over again: no row changes', async (t) => {
      const db = await fresh(t)
      const dir = await tempDir(t)
      const records = [...await fixtureRecords(), delivery('sms_late', 'DELIVERED', '2020-11-05 10:00:00'), delivery('sms_late', 'SENT', '2020-11-05 09:00:00')]
      await writeSegment(dir, 1, lines(records))
      assert.equal(await pass(dir, db), 0)
      const before = await tables(db)
      const replay = await runReplay({ dataDir: dir, target: { all: true }, yes: true }, captureIO())
      assert.equal(replay.requeued, records.length)
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual(await tables(db), before)
      // One older record handed over again alone (as after a crash): its opt-out, tied in time
      // with a later one, must not take the row back.
      const names = loadFixtures().map((f) => f.name)
      await mkdir(join(dir, 'requeue'), { recursive: true })
      await writeFile(join(dir, 'requeue', 'again.ndjson'), lines([records[names.indexOf('optout-form.http')]!, records[names.indexOf('delivery-form.http')]!]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual(await tables(db), before)
      assert.deepEqual(await deadLetters(dir), [])
    })

    test('a late receipt with an older time does not overwrite a newer status; a newer one does; an undated one only an undated one', async (t) => {
      const db = await fresh(t)
      const dir = await tempDir(t)
      const status = async (): Promise<Row[]> => await db.query('SELECT message_id, status, event_time FROM callback_deliveries ORDER BY message_id')
      const first = [delivery('m1', 'DELIVERED', '2020-11-04 12:00:00'), delivery('m2', 'UNKNOWN', 'not a date')]
      await writeSegment(dir, 1, lines(first))
      assert.equal(await pass(dir, db), 0)
      const late = [delivery('m1', 'SENT', '2020-11-04 11:00:00'), delivery('m1', 'QUEUED', 'not a date'), delivery('m2', 'SENT', 'not a date either')]
      await writeSegment(dir, 2, lines(late))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual(await status(), [
        { message_id: 'm1', status: 'delivered', event_time: '2020-11-04T11:00:00.000Z' },
        { message_id: 'm2', status: 'unknown', event_time: null },
      ])
      await writeSegment(dir, 3, lines([delivery('m1', 'EXPIRED', '2020-11-04 13:00:00'), delivery('m2', 'DELIVERED', '2020-11-04 09:00:00')]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual(await status(), [
        { message_id: 'm1', status: 'expired', event_time: '2020-11-04T12:00:00.000Z' },
        { message_id: 'm2', status: 'delivered', event_time: '2020-11-04T08:00:00.000Z' },
      ])
      // Every receipt is kept in callbacks, late or not.
      assert.equal((await db.query('SELECT id FROM callbacks')).length, 7)
    })

    test('the same order within one batch: the newest status and the latest opt-out win, whatever the order of arrival', async (t) => {
      const db = await fresh(t)
      const handler = await createHandler(db)
      t.after(() => handler.close?.())
      const optout = (date: string): SpoolRecord => recordWithFields({ message_id: 'x', number: '+33611111111', text: 'STOP', stop_date: date })
      const batch = [delivery('m1', 'DELIVERED', '2020-11-04 12:00:00'), delivery('m1', 'SENT', '2020-11-04 11:00:00'), optout('2020-11-04 12:00:00'), optout('2020-11-04 11:00:00')]
      const outcomes = await handTogether(handler, batch)
      assert.deepEqual(outcomes.map((o) => o.outcome), ['done', 'done', 'done', 'done'])
      assert.deepEqual(await db.query('SELECT status, record_id FROM callback_deliveries'), [{ status: 'delivered', record_id: batch[0]!.id }])
      assert.deepEqual(await db.query('SELECT opted_out_at, record_id FROM callback_optouts'), [{ opted_out_at: '2020-11-04T11:00:00.000Z', record_id: batch[2]!.id }])
    })

    test('a value the database refuses dead-letters that record alone, in a pass and within a batch', async (t) => {
      const db = await fresh(t)
      const dir = await tempDir(t)
      const tooLong = delivery('m'.repeat(300), 'DELIVERED', '2020-11-04 12:00:00')
      const records = [delivery('ok1', 'DELIVERED', '2020-11-04 12:00:00'), tooLong, delivery('ok2', 'DELIVERED', '2020-11-04 12:00:00')]
      await writeSegment(dir, 1, lines(records))
      assert.equal(await pass(dir, db), 0)
      const dead = await deadLetters(dir)
      assert.deepEqual(dead.map((d) => (d.record as SpoolRecord).id), [tooLong.id])
      assert.match(dead[0]!.error as string, dialect === 'postgres' ? /^22001: value too long/ : /^ER_DATA_TOO_LONG: Data too long for column 'message_id'/)
      assert.deepEqual((await db.query('SELECT message_id FROM callbacks ORDER BY message_id')).map((r) => r.message_id), ['ok1', 'ok2'])

      // Handed over together: one batch refused, then each record alone.
      const handler = await createHandler(db)
      t.after(() => handler.close?.())
      const batch = [delivery('ok3', 'SENT', undefined), { ...tooLong, id: newRecordId() }, delivery('ok4', 'SENT', undefined)]
      const outcomes = await handTogether(handler, batch)
      assert.deepEqual(outcomes.map((o) => o.outcome), ['done', 'dead', 'done'])
      assert.equal((await db.query('SELECT id FROM callbacks')).length, 4)
    })

    if (dialect === 'postgres') {
      test('a NUL character, which PostgreSQL text cannot hold, dead-letters that record alone', async (t) => {
        const db = await fresh(t)
        const handler = await createHandler(db)
        t.after(() => handler.close?.())
        const nul = recordWithFields({ message_id: 'm', number: '+33600000000', text: 'a\u0000b', reception_date: '2020-11-04 12:00:00' })
        const batch = [delivery('ok1', 'SENT', undefined), nul, delivery('ok2', 'SENT', undefined)]
        const outcomes = await handTogether(handler, batch)
        assert.deepEqual(outcomes.map((o) => o.outcome), ['done', 'dead', 'done'])
        assert.doesNotMatch(JSON.stringify(outcomes), /a\\u0000b/)
      })
    }

    test('the connection killed mid-pass: the batch is retried on a new connection, then the pass is done', async (t) => {
      const db = await fresh(t)
      const dir = await tempDir(t)
      const records = Array.from({ length: 400 }, (_, i) => delivery(`sms_${i}`, 'DELIVERED', '2020-11-04 12:00:00'))
      await writeSegment(dir, 1, lines(records))
      // The tables, then a lock on callbacks held by the test, so that a batch is surely in flight when its connection is killed.
      for (const statement of schemaStatements(dialect, '')) await db.query(statement)
      const lock = await testLock(db)
      const { logger, lines: logged } = capturingLogger()
      const running = runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=${db.url}`)], tries: 5, retryDelayMs: 50 }), logger, noSignals)
      await waitFor('a batch waiting for the lock', async () => (await lock.waiting()) > 0, 30_000)
      await lock.killOthers()
      await lock.release()
      // The batch whose connection was killed is written again by the handler itself, within the pass.
      assert.equal(await running, 0)
      assert.ok(!logged.some((l) => l.level === 'error' || l.level === 'fatal' || Number(l.level) >= 50), 'no pass failed')
      assert.equal((await db.query('SELECT id FROM callbacks')).length, records.length)
      assert.deepEqual(await deadLetters(dir), [])
    })

    test('the connection killed mid-pass with no try left: exit 75, no checkpoint past the batch; the next pass writes it', async (t) => {
      const db = await fresh(t)
      const dir = await tempDir(t)
      const records = Array.from({ length: 400 }, (_, i) => delivery(`sms_${i}`, 'DELIVERED', '2020-11-04 12:00:00'))
      await writeSegment(dir, 1, lines(records))
      for (const statement of schemaStatements(dialect, '')) await db.query(statement)
      const lock = await testLock(db)
      const running = runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=${db.url}`)], tries: 1 }), silentLogger(), noSignals)
      await waitFor('a batch waiting for the lock', async () => (await lock.waiting()) > 0, 30_000)
      await lock.killOthers()
      await lock.release()
      assert.equal(await running, 75)
      assert.equal(await loadCheckpoint(dataLayout(dir)), undefined)
      assert.equal(await pass(dir, db), 0)
      assert.equal((await db.query('SELECT id FROM callbacks')).length, records.length)
      assert.deepEqual(await deadLetters(dir), [])
    })
  })
}

/**
 * A lock on `callbacks`, held by a connection of the test's own, to catch the handler's batch in
 * flight; the handler's connections are then killed from another one, as a server restart would.
 */
async function testLock (db: TestDatabase): Promise<{ waiting: () => Promise<number>, killOthers: () => Promise<void>, release: () => Promise<void> }> {
  const holder = await db.open()
  if (db.dialect === 'postgres') {
    await holder.query('BEGIN')
    await holder.query('LOCK TABLE callbacks IN ACCESS EXCLUSIVE MODE')
    // Outside a transaction: pg_stat_activity is read once per transaction.
    const handlerBackends = "FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'callback-spool'"
    return {
      waiting: async () => (await db.query(`SELECT pid ${handlerBackends} AND wait_event_type = 'Lock'`)).length,
      killOthers: async () => { await db.query(`SELECT pg_terminate_backend(pid) ${handlerBackends}`) },
      release: async () => { await holder.query('COMMIT') },
    }
  }
  await holder.query('LOCK TABLES callbacks WRITE')
  const [{ id: holderId }] = await holder.query('SELECT CONNECTION_ID() AS id') as [Row]
  const others = async (): Promise<Row[]> =>
    await db.query('SELECT id, state FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID() AND id <> ?', [holderId])
  return {
    waiting: async () => (await others()).filter((r) => /lock/i.test(String(r.state))).length,
    killOthers: async () => { for (const r of await others()) await db.query(`KILL ${Number(r.id)}`) },
    release: async () => { await holder.query('UNLOCK TABLES') },
  }
}
