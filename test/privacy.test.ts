import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { createProgram } from '../src/cli.js'
import { maskFields, maskNumber, maskText } from '../src/mask.js'
import { send } from './helpers/http.js'
import { tempDir } from './helpers/tmp.js'

test('maskNumber keeps the first four and last three characters', () => {
  assert.equal(maskNumber('+33600112233'), '+336*****233')
  assert.equal(maskNumber('0033600112233'), '0033******233')
  assert.equal(maskNumber('+3361'), '*****')
  assert.equal(maskText('Bonjour'), '[7 chars]')
  const masked = maskFields({ number: '+33600112233', text: 'STOP please', status: 'DELIVERED', delivery_date: '2026-11-27 12:00:00', To: '+14158675309', ref: 'client 0612345678', nested: { a: 1 } })
  assert.deepEqual(masked, {
    number: '+336*****233',
    text: '[11 chars]',
    status: 'DELIVERED',
    delivery_date: '2026-11-27 12:00:00',
    To: '+141*****309',
    ref: 'clie**********678',
    nested: 'object',
  })
})

test('a receiver run with a token and basic auth: no secret in any log line, no number or text above debug', async (t) => {
  const dataDir = await tempDir(t)
  const token = 'Xq7secretTOKENvalue2026'
  const password = 'pw-Horse-Battery-9'
  const authFile = join(dataDir, 'basic-auth')
  await writeFile(authFile, `octopush:${password}\n`, { mode: 0o600 })
  const lines: Array<Record<string, unknown> & { level: number }> = []
  let raw = ''
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      raw += chunk.toString()
      for (const l of chunk.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l))
      cb()
    },
  })
  const logger = pino({ level: 'trace' }, sink)
  let stop: ((signal: NodeJS.Signals) => void) | undefined
  const program = createProgram({ logger, onSignal: (handler) => { stop = handler } })
  program.exitOverride()
  // The token from the environment, as a service manager would pass it; the password from a file.
  process.env.CALLBACK_SPOOL_TOKEN = token
  t.after(() => { delete process.env.CALLBACK_SPOOL_TOKEN })
  const running = program.parseAsync(['node', 'callback-spool', 'receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, '--basic-auth-file', authFile])
  let port: number | undefined
  for (let i = 0; i < 200 && port === undefined; i++) {
    port = lines.find((l) => typeof l.port === 'number')?.port as number | undefined
    await sleep(10)
  }
  assert.ok(port !== undefined, 'the receiver logged its port')
  const auth = (pw: string) => ({ Authorization: `Basic ${Buffer.from(`octopush:${pw}`).toString('base64')}`, 'Content-Type': 'application/json' })
  const body = JSON.stringify({ number: '+33600112233', text: 'Hello secret message', reception_date: '2026-11-27 12:00:00' })
  assert.equal((await send(port, { method: 'POST', path: `/${token.slice(0, -1)}/reply`, body, headers: auth(password) })).status, 404)
  assert.equal((await send(port, { method: 'POST', path: `/${token}/reply`, body, headers: auth(`${password}x`) })).status, 401)
  assert.equal((await send(port, { method: 'POST', path: `/reply?token=${token}`, body, headers: auth(password) })).status, 200)
  assert.equal((await send(port, { method: 'POST', path: `/${token}/reply`, body: 'number=0033600112233&text=Hello+secret+message', headers: auth(password) })).status, 200)
  stop!('SIGTERM')
  await running

  assert.ok(lines.some((l) => l.msg === 'callback spooled' && l.level === 20), 'debug lines were written')
  assert.ok(raw.includes('+336*****233'), 'debug shows the masked number')
  // Secrets: at no level.
  for (const secret of [token, token.slice(0, -1), password, Buffer.from(`octopush:${password}`).toString('base64')]) {
    assert.equal(raw.includes(secret), false, 'a secret reached the logs')
  }
  // Numbers and text: never in full, and nothing of them at info and above.
  for (const pii of ['33600112233', '0600112233', 'Hello secret', 'Hello+secret']) assert.equal(raw.includes(pii), false, `${pii} in the logs`)
  const infoUp = lines.filter((l) => l.level >= 30).map((l) => JSON.stringify(l)).join('\n')
  assert.equal(infoUp.includes('*****'), false)
  assert.match(infoUp, /"token":true/)

  // Files 0640, directories 0750.
  const spool = join(dataDir, 'spool')
  assert.equal((await stat(spool)).mode & 0o777, 0o750)
  const segments = (await readdir(spool)).filter((n) => n.endsWith('.ndjson'))
  assert.ok(segments.length > 0)
  for (const name of segments) assert.equal((await stat(join(spool, name))).mode & 0o777, 0o640)
  assert.equal((await stat(dataDir)).mode & 0o777, 0o700, 'mkdtemp made it 0700; an existing dir keeps its mode')
})

test('`callback-spool config` masks the access secrets, and a bad one is reported without its value', async (t) => {
  const secrets = { CALLBACK_SPOOL_TOKEN: 'ConfigShownTOKEN-0123456789', CALLBACK_SPOOL_BASIC_AUTH: 'octopush:pw-Config-Shown', CALLBACK_SPOOL_TWILIO_AUTH_TOKEN: 'twilio-Config-Shown' }
  Object.assign(process.env, secrets, { CALLBACK_SPOOL_ALLOW: '192.0.2.0/24' })
  t.after(() => { for (const k of [...Object.keys(secrets), 'CALLBACK_SPOOL_ALLOW']) delete process.env[k] })
  let out = ''
  const program = createProgram({ logger: pino({ level: 'silent' }), stdout: (text) => { out += text } })
  program.exitOverride()
  await program.parseAsync(['node', 'callback-spool', 'config'])
  assert.match(out, /--token +\*\*\*\*/)
  assert.match(out, /--allow +192\.0\.2\.0\/24/)
  for (const value of Object.values(secrets)) assert.equal(out.includes(value), false)
  assert.equal(out.includes('pw-Config-Shown'), false)

  process.env.CALLBACK_SPOOL_TOKEN = 'short-Secret'
  const again = createProgram({ logger: pino({ level: 'silent' }), stdout: () => {} })
  again.exitOverride()
  await assert.rejects(again.parseAsync(['node', 'callback-spool', 'config']), (err: Error & { code: string }) =>
    err.code === 'SPOOL_ERR_CONFIG' && err.message.includes('--token') && !err.message.includes('short-Secret'))
})
