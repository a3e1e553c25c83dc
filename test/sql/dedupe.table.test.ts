/**
 * The SQL targets and the providers' re-sends: the unique index on `callbacks.dedupe_key` keeps a
 * re-send (another spool record, the same provider key) out, with no state row changed; an opt-in
 * newer than a number's opt-out drops it from `callback_optouts`, also when the older opt-out
 * comes in a later pass (`callback_optins`); tables of schema versions 1 and 2 are migrated. The processor's own window is off here (`dedupeWindowMs: 0`): the database does it.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { runProcessCommand } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { SCHEMA_VERSION, schemaStatements } from '../../src/processor/sql/schema.js'
import type { SpoolRecord } from '../../src/record.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { reachServer, testDatabase, type Dialect, type Row, type SqlServer, type TestDatabase } from '../helpers/sql-servers.js'

const servers: Record<Dialect, SqlServer | undefined> = { postgres: await reachServer('postgres'), mysql: await reachServer('mysql') }

async function pass (dir: string, db: TestDatabase): Promise<number> {
  return await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=${db.url}`)], dedupeWindowMs: 0 }), silentLogger(), () => {})
}

const at = (minute: number): Date => new Date(Date.UTC(2026, 5, 1, 12, minute, 0))

/** A Twilio status callback (no event time: the row is dated by received_at). */
function twilioStatus (sid: string, status: string, minute: number): SpoolRecord {
  return recordWithFields({ MessageSid: sid, AccountSid: 'AC1', From: '+15017250604', To: '+15558675309', MessageStatus: status }, at(minute))
}

/** A Twilio incoming message with Advanced Opt-Out's OptOutType. */
function twilioOpt (sid: string, from: string, type: 'STOP' | 'START', minute: number): SpoolRecord {
  return recordWithFields({ MessageSid: sid, AccountSid: 'AC1', From: from, To: '+15558675310', Body: type, OptOutType: type }, at(minute))
}

async function state (db: TestDatabase): Promise<{ callbacks: Row[], optouts: Row[], deliveries: Row[] }> {
  const xmin = db.dialect === 'postgres' ? ', xmin::text AS xmin' : ''
  return {
    callbacks: await db.query(`SELECT id, kind, message_id, status, dedupe_key${xmin} FROM callbacks ORDER BY id`),
    optouts: await db.query(`SELECT number, opted_out_at, record_id${xmin} FROM callback_optouts ORDER BY number`),
    deliveries: await db.query(`SELECT message_id, number, status, record_id${xmin} FROM callback_deliveries ORDER BY message_id, number`),
  }
}

for (const dialect of ['postgres', 'mysql'] as const) {
  const server = servers[dialect]
  const skip = server === undefined ? `no ${dialect} server (see the line above)` : false

  describe(`${dialect} target: provider re-sends`, { skip }, () => {
    test('a re-send, in the same batch or a later pass, inserts no row and changes no state row', async (t) => {
      const db = await testDatabase(t, server!)
      const dir = await tempDir(t)
      const first = twilioStatus('SM1', 'delivered', 0)
      const sameBatch = twilioStatus('SM1', 'delivered', 1)
      const other = twilioStatus('SM1', 'sent', 2)
      await writeSegment(dir, 1, lines([first, sameBatch, other]))
      assert.equal(await pass(dir, db), 0)
      const before = await state(db)
      assert.deepEqual(before.callbacks.map((r) => [r.id, r.dedupe_key]), [[first.id, 'twilio:SM1|delivered'], [other.id, 'twilio:SM1|sent']])
      assert.deepEqual(before.deliveries.map((r) => [r.status, r.record_id]), [['sent', other.id]])

      // Twilio sends the delivered status again an hour later: nothing changes, not even the
      // delivery row, whose newest record (by time) this re-send would otherwise be.
      await writeSegment(dir, 2, lines([twilioStatus('SM1', 'delivered', 60)]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual(await state(db), before)
    })

    test('callback_optouts: an opt-in newer than the opt-out drops the number; an older one does not', async (t) => {
      const db = await testDatabase(t, server!)
      const dir = await tempDir(t)
      await writeSegment(dir, 1, lines([
        twilioOpt('SMa1', '+15550000001', 'STOP', 0),
        twilioOpt('SMb1', '+15550000002', 'STOP', 0),
        // In one batch: the opt-out, then a later opt-in of the same number.
        twilioOpt('SMc1', '+15550000003', 'STOP', 0),
        twilioOpt('SMc2', '+15550000003', 'START', 1),
      ]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await state(db)).optouts.map((r) => r.number), ['+15550000001', '+15550000002'])
      await writeSegment(dir, 2, lines([
        twilioOpt('SMa2', '+15550000001', 'START', 5),
        // Received before the opt-out it follows in the spool (a late retry): the opt-out stays.
        twilioOpt('SMb2', '+15550000002', 'START', -5),
      ]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await state(db)).optouts.map((r) => r.number), ['+15550000002'])
    })

    test('across passes: an opt-out older than an opt-in already written leaves the number out; a newer one puts it back', async (t) => {
      const db = await testDatabase(t, server!)
      const dir = await tempDir(t)
      // Pass 1: the opt-ins, newer than the opt-outs still to come; +15550000002 had opted out before.
      await writeSegment(dir, 1, lines([
        twilioOpt('SMd0', '+15550000002', 'STOP', -30),
        twilioOpt('SMd1', '+15550000001', 'START', 10),
        twilioOpt('SMd2', '+15550000002', 'START', 10),
      ]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await state(db)).optouts, [])
      // Pass 2: the older opt-outs, late (a provider's retry): both numbers stay out of the list.
      await writeSegment(dir, 2, lines([
        twilioOpt('SMe1', '+15550000001', 'STOP', 5),
        twilioOpt('SMe2', '+15550000002', 'STOP', 10),
      ]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await state(db)).optouts, [])
      // Pass 3: opt-outs newer than the opt-ins put the numbers back.
      const back = twilioOpt('SMf1', '+15550000001', 'STOP', 20)
      await writeSegment(dir, 3, lines([back, twilioOpt('SMf2', '+15550000002', 'STOP', 11)]))
      assert.equal(await pass(dir, db), 0)
      const optouts = (await state(db)).optouts
      assert.deepEqual(optouts.map((r) => r.number), ['+15550000001', '+15550000002'])
      assert.equal(optouts[0]!.record_id, back.id)
      // Pass 4: an opt-in older than those opt-outs changes nothing; the latest opt-in is kept.
      await writeSegment(dir, 4, lines([twilioOpt('SMg1', '+15550000001', 'START', 15)]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await state(db)).optouts.map((r) => r.number), ['+15550000001', '+15550000002'])
      assert.deepEqual((await db.query('SELECT number, opted_in_at FROM callback_optins ORDER BY number')).map((r) => [r.number, r.opted_in_at]),
        [['+15550000001', at(15).toISOString()], ['+15550000002', at(10).toISOString()]])
    })

    test('tables of schema version 2 get callback_optins; their rows stay', async (t) => {
      const db = await testDatabase(t, server!)
      const dir = await tempDir(t)
      const q = (name: string): string => dialect === 'postgres' ? name : `\`${name}\``
      // Version 2's tables: this release's without callback_optins.
      for (const statement of schemaStatements(dialect, '')) await db.query(statement)
      await db.query(`DROP TABLE ${q('callback_optins')}`)
      await db.query(`UPDATE ${q('callback_schema')} SET ${q('version')} = 2`)
      await db.query(`INSERT INTO ${q('callback_optouts')} (${q('number')}, ${q('opted_out_at')}, ${q('record_id')}) VALUES ('+15550000009', '2026-01-01 00:00:00', '01900000-0000-7000-8000-000000000009')`)

      const optin = twilioOpt('SMh1', '+15550000008', 'START', 10)
      await writeSegment(dir, 1, lines([optin]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await db.query(`SELECT ${q('version')} FROM ${q('callback_schema')} ORDER BY ${q('version')}`)).map((r) => Number(r.version)), [2, SCHEMA_VERSION])
      assert.deepEqual((await db.query('SELECT number, record_id FROM callback_optins')), [{ number: '+15550000008', record_id: optin.id }])
      assert.deepEqual((await state(db)).optouts.map((r) => r.number), ['+15550000009'])
      // The new table is in use: an older opt-out, later, stays out.
      await writeSegment(dir, 2, lines([twilioOpt('SMh2', '+15550000008', 'STOP', 5)]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await state(db)).optouts.map((r) => r.number), ['+15550000009'])
    })

    test('tables of schema version 1 get the dedupe_key column and its unique index; their rows stay', async (t) => {
      const db = await testDatabase(t, server!)
      const dir = await tempDir(t)
      const q = (name: string): string => dialect === 'postgres' ? name : `\`${name}\``
      // Version 1's callbacks and schema tables, as release 1 created them (the other two are unchanged).
      await db.query(`CREATE TABLE ${q('callbacks')} (${q('id')} ${dialect === 'postgres' ? 'uuid' : 'char(36)'} PRIMARY KEY, ${q('kind')} varchar(16) NOT NULL,
        ${q('received_at')} ${dialect === 'postgres' ? 'timestamptz' : 'datetime(3)'} NOT NULL, ${q('event_time')} ${dialect === 'postgres' ? 'timestamptz' : 'datetime(3)'} NULL,
        ${q('message_id')} varchar(255) NULL, ${q('number')} varchar(64) NULL, ${q('status')} varchar(64) NULL, ${q('text')} text NULL, ${q('fields')} ${dialect === 'postgres' ? 'jsonb' : 'json'} NOT NULL)`)
      await db.query(`CREATE TABLE ${q('callback_schema')} (${q('version')} integer PRIMARY KEY, ${q('applied_at')} ${dialect === 'postgres' ? 'timestamptz NOT NULL DEFAULT now()' : 'datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)'})`)
      await db.query(`INSERT INTO ${q('callback_schema')} (${q('version')}) VALUES (1)`)
      const oldId = '01900000-0000-7000-8000-000000000001'
      await db.query(`INSERT INTO ${q('callbacks')} (${q('id')}, ${q('kind')}, ${q('received_at')}, ${q('fields')}) VALUES ('${oldId}', 'unknown', '2026-01-01 00:00:00', '{}')`)

      const first = twilioStatus('SM9', 'delivered', 0)
      await writeSegment(dir, 1, lines([first, twilioStatus('SM9', 'delivered', 1)]))
      assert.equal(await pass(dir, db), 0)
      assert.deepEqual((await db.query(`SELECT ${q('version')} FROM ${q('callback_schema')} ORDER BY ${q('version')}`)).map((r) => Number(r.version)), [1, SCHEMA_VERSION])
      assert.deepEqual((await state(db)).callbacks.map((r) => [r.id, r.dedupe_key]), [[oldId, null], [first.id, 'twilio:SM9|delivered']])
    })
  })
}
