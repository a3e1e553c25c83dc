/** SQL target URLs: what they say, where the password comes from, and that it is never shown. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseRoute } from '../../src/processor/dispatch.js'
import { PostgresHandler } from '../../src/processor/handlers/postgres.js'
import { MysqlHandler } from '../../src/processor/handlers/mysql.js'
import { parseSqlTarget, resolvePassword } from '../../src/processor/sql/target-url.js'
import { schemaScript } from '../../src/processor/sql/schema.js'
import { createProgram } from '../../src/cli.js'
import { ConfigError } from '../../src/errors.js'
import { maskUrlCredentials } from '../../src/mask.js'
import { tempDir } from '../helpers/tmp.js'
import { captureIO } from '../helpers/tool-io.js'

test('postgres://, postgresql://, mysql:// and mariadb:// URLs: dialect, default port, database, prefix', () => {
  assert.deepEqual(parseSqlTarget('postgres://app@db.example.com/callbacks'),
    { dialect: 'postgres', host: 'db.example.com', port: 5432, user: 'app', database: 'callbacks', prefix: '', display: 'postgres://***@db.example.com/callbacks' })
  assert.equal(parseSqlTarget('postgresql://app@db/x').dialect, 'postgres')
  const my = parseSqlTarget('mariadb://app:p%40ss@10.0.0.5:3307/sms?prefix=cs_')
  assert.deepEqual([my.dialect, my.port, my.password, my.prefix, my.display], ['mysql', 3307, 'p@ss', 'cs_', 'mariadb://app:***@10.0.0.5:3307/sms?prefix=cs_'])
  assert.equal(parseSqlTarget('mysql://root@[::1]/x').host, '::1')
})

test('a wrong SQL URL is a ConfigError that names the mistake and never shows the password', () => {
  for (const [url, why] of [
    ['postgres://:pw-secret@db/x', /no user/],
    ['postgres://app:pw-secret@db/', /no database/],
    ['mysql://app:pw-secret@db/x?prefix=1bad', /prefix/],
    ['mysql://app:pw-secret@db/x?sslmode=require', /unknown parameter `sslmode`/],
  ] as const) {
    assert.throws(() => parseSqlTarget(url), (err: unknown) => {
      assert.ok(err instanceof ConfigError)
      assert.equal(err.code, 'SPOOL_ERR_CONFIG')
      assert.match(err.message, why)
      assert.doesNotMatch(err.message, /pw-secret/)
      return true
    })
  }
  assert.throws(() => parseRoute('nope=postgres://app:pw-secret@db/x'), (err: unknown) => err instanceof ConfigError && !err.message.includes('pw-secret'))
  assert.deepEqual(parseRoute('optout=postgres://app@db/x'), { kind: 'optout', target: 'postgres://app@db/x' })
})

test('the password: from the URL, else the first line of password_file, else PGPASSWORD / MYSQL_PWD', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'pw')
  await writeFile(file, 'from-file\n')
  const env = { PGPASSWORD: 'from-pg-env', MYSQL_PWD: 'from-mysql-env' }
  assert.equal(await resolvePassword(parseSqlTarget(`postgres://app:from-url@db/x?password_file=${file}`), env), 'from-url')
  assert.equal(await resolvePassword(parseSqlTarget(`postgres://app@db/x?password_file=${file}`), env), 'from-file')
  assert.equal(await resolvePassword(parseSqlTarget('postgres://app@db/x'), env), 'from-pg-env')
  assert.equal(await resolvePassword(parseSqlTarget('mysql://app@db/x'), env), 'from-mysql-env')
  assert.equal(await resolvePassword(parseSqlTarget('mysql://app@db/x'), {}), undefined)
  await assert.rejects(resolvePassword(parseSqlTarget(`mysql://app@db/x?password_file=${join(dir, 'missing')}`), {}), { code: 'SPOOL_ERR_CONFIG', message: /cannot read the password file .*ENOENT/ })
})

test('a handler names its target with the password masked (logs, dead letters); creating it connects to nothing', async () => {
  for (const handler of [await PostgresHandler.create('postgres://app:pw-secret@127.0.0.1:1/x', { timeoutMs: 1000 }), await MysqlHandler.create('mysql://app:pw-secret@127.0.0.1:1/x', { timeoutMs: 1000 })]) {
    assert.match(handler.target, /^(postgres|mysql):\/\/app:\*\*\*@127\.0\.0\.1:1\/x$/)
    await handler.close()
  }
  assert.equal(maskUrlCredentials('a=http://u:p@h/ b=mysql://u:@h/'), 'a=http://u:***@h/ b=mysql://u:***@h/')
})

test('an unreachable server: tried again, then the flush before the checkpoint fails, with the reason', async () => {
  const handler = await PostgresHandler.create('postgres://app@127.0.0.1:1/x', { timeoutMs: 5000, tries: 2, retryDelayMs: 10 })
  handler.handle({ kind: 'unknown', provider: null, id: '01a24e43-1d73-70ac-95ca-4b64b5f8ffff', received_at: new Date().toISOString(), message_id: null, number: null, our_number: null, event_date: null, event_time: null, fields: {} })
  await assert.rejects(handler.flush(), /^Error: cannot write to postgres:\/\/\*\*\*@127\.0\.0\.1:1\/x: .*ECONNREFUSED/)
  await handler.discard()
  await handler.close()
})

test('`callback-spool config` masks the password of a SQL target in --on', async (t) => {
  const saved = process.env.CALLBACK_SPOOL_ON
  process.env.CALLBACK_SPOOL_ON = '*=postgres://app:pw-secret@db/x'
  t.after(() => { if (saved === undefined) delete process.env.CALLBACK_SPOOL_ON; else process.env.CALLBACK_SPOOL_ON = saved })
  let out = ''
  await createProgram({ stdout: (text) => { out += text } }).exitOverride().parseAsync(['config'], { from: 'user' })
  assert.match(out, /postgres:\/\/app:\*\*\*@db\/x/)
  assert.doesNotMatch(out, /pw-secret/)
})

test('`db schema URL` prints the tables of the dialect, with the prefix; no password shown', async () => {
  const io = captureIO()
  await createProgram({ toolIO: io }).exitOverride().parseAsync(['db', 'schema', 'postgres://app:pw-secret@db/x?prefix=sms_'], { from: 'user' })
  assert.match(io.out(), /^-- callback-spool tables for postgres:\/\/app:\*\*\*@db\/x\?prefix=sms_\nBEGIN;/)
  assert.equal(io.out().slice(io.out().indexOf('\n') + 1), schemaScript('postgres', 'sms_'))
  for (const table of ['sms_callbacks', 'sms_callback_optouts', 'sms_callback_optins', 'sms_callback_deliveries', 'sms_callback_schema']) assert.match(io.out(), new RegExp(`CREATE TABLE IF NOT EXISTS ${table} `))
  assert.doesNotMatch(io.out(), /pw-secret/)
  const my = captureIO()
  await createProgram({ toolIO: my }).exitOverride().parseAsync(['db', 'schema', 'mysql://app@db/x'], { from: 'user' })
  assert.match(my.out(), /CREATE TABLE IF NOT EXISTS `callbacks` \(\n {2}`id` char\(36\)/)
  assert.doesNotMatch(my.out(), /BEGIN/)
})
