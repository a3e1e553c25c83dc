import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { createProgram } from '../../src/cli.js'
import { createLogger } from '../../src/logger.js'
import { maskFields, maskJsonStrings, maskNumber, maskPhoneNumbers, maskText, maskUrlCredentials } from '../../src/mask.js'
import { send } from '../helpers/http.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'

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

/** The product's logger (src/logger.ts) writing into memory: every line as written, and parsed. */
function productLogger (level: string): { logger: ReturnType<typeof createLogger>, raw: () => string, lines: Array<Record<string, unknown>> } {
  let raw = ''
  const lines: Array<Record<string, unknown>> = []
  const logger = createLogger(level, { write (s: string) { raw += s; lines.push(JSON.parse(s) as Record<string, unknown>) } })
  return { logger, raw: () => raw, lines }
}

// The number of every test record below, as handlers and providers spell it back.
const SPELLINGS = ['33600112233', '600112233', '+33 6 00 11 22 33', '6 00 11 22 33', '+33-600-112-233', '600-112-233', '0033 6 00 11 22 33']

test('handler error text and credentials in a target URL: masked in every log line (debug too) and every dead letter', async (t) => {
  const dataDir = await tempDir(t)
  const secret = 'pw-Route-Secret-42'
  // Answers every call 400, echoing the number as applications do.
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"unknown number +33-600-112-233"}')
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const port = (server.address() as AddressInfo).port
  const mod = join(dataDir, 'handler.mjs')
  await writeFile(mod, "export default function () { throw Object.assign(new Error('no subscriber +33 6 00 11 22 33 (33600112233)'), { permanent: true }) }\n")
  const n = '+33600112233'
  await writeSegment(dataDir, 1, lines([
    recordWithFields({ number: n, status: 'DELIVERED', delivery_date: '2026-11-27 10:00:00', message_id: 'm1' }),
    recordWithFields({ number: n, text: 'hi', reception_date: '2026-11-27 10:00:00' }),
    recordWithFields({ number: n, text: 'STOP', stop_date: '2026-11-27 10:00:00' }),
    recordWithFields({ number: n, something: 'else' }),
  ]))
  const { logger, raw } = productLogger('debug')
  const program = createProgram({ logger, onSignal: () => {} })
  program.exitOverride()
  await program.parseAsync(['node', 'callback-spool', 'process', '--data-dir', dataDir, '--tries', '2', '--retry-delay', '10ms', '--max-attempts', '1',
    '--on', `delivery=module:${mod}`,
    '--on', `reply=http://127.0.0.1:${port}/hook`,
    '--on', 'optout=exec:echo "blocklist has no 0033 6 00 11 22 33" >&2; exit 65',
    '--on', `unknown=http://hooker:${secret}@127.0.0.1:${port}/secure`])
  process.exitCode = undefined
  // A second pass finds nothing: its line is at debug, so the logger surely wrote at that level.
  await program.parseAsync(['node', 'callback-spool', 'process', '--data-dir', dataDir, '--on', `delivery=module:${mod}`])
  process.exitCode = undefined

  const dead = (await readFile(join(dataDir, 'dead', (await readdir(join(dataDir, 'dead')))[0]!), 'utf8')).trim().split('\n')
    .map((l) => JSON.parse(l) as { error: string, target: string, kind: string })
  assert.deepEqual(dead.map((d) => d.kind).sort(), ['delivery', 'optout', 'reply', 'unknown'])
  for (const d of dead) {
    for (const s of SPELLINGS) assert.equal(d.error.includes(s), false, `${s} in the dead letter's error ${d.error}`)
    assert.equal(d.target.includes(secret), false, 'credentials in the dead letter')
  }
  assert.ok(dead.some((d) => d.error.includes('+336*****233')), 'the error is kept, the number masked')
  assert.ok(dead.some((d) => d.target === `http://hooker:***@127.0.0.1:${port}/secure`))
  const logs = raw()
  assert.ok(logs.includes('record dead-lettered') && logs.includes('+336*****233'), 'the errors were logged, masked')
  assert.ok(logs.includes('"level":"debug"'), 'debug lines were written')
  for (const s of [...SPELLINGS, secret]) assert.equal(logs.includes(s), false, `${s} in the logs`)
})

test('at debug the receiver shows neither free text under names it does not know nor the request path', async (t) => {
  const dataDir = await tempDir(t)
  // A plain pino logger: what the receiver itself logs, before the logger's own masking.
  let raw = ''
  const logLines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write (s: string) { raw += s; logLines.push(JSON.parse(s) as Record<string, unknown>) } })
  let stop: ((signal: NodeJS.Signals) => void) | undefined
  const program = createProgram({ logger, onSignal: (handler) => { stop = handler } })
  program.exitOverride()
  const running = program.parseAsync(['node', 'callback-spool', 'receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir])
  t.after(async () => { stop?.('SIGTERM'); await running })
  let port: number | undefined
  for (let i = 0; i < 500 && port === undefined; i++) {
    port = logLines.find((l) => typeof l.port === 'number')?.port as number | undefined
    await sleep(10)
  }
  assert.ok(port !== undefined, 'the receiver logged its port')
  const body = JSON.stringify({ number: '+33600112233', note: 'Hello secret friend', greeting: 'Bonjour', ref: '+33 6 00 11 22 33', status: 'DELIVERED', delivery_date: '2026-11-27 12:00:00', message_id: 'sms_42' })
  const path = '/delivery/Jean%20Dupont/+33-600-112-233'
  assert.equal((await send(port, { method: 'POST', path, body, headers: { 'Content-Type': 'application/json' } })).status, 200)
  const spooled = logLines.find((l) => l.msg === 'callback spooled') as { path: string, fields: Record<string, string> } | undefined
  assert.ok(spooled !== undefined)
  assert.deepEqual(spooled.fields, {
    number: '+336*****233',
    note: '[19 chars]',
    greeting: '[7 chars]',
    ref: '+336*****233',
    status: 'DELIVERED',
    delivery_date: '2026-11-27 12:00:00',
    message_id: 'sms_42',
  })
  assert.equal(spooled.path, '/delivery/[13 chars]/[15 chars]')
  for (const s of [...SPELLINGS, 'Hello secret', 'Bonjour', 'Jean', 'Dupont']) assert.equal(raw.includes(s), false, `${s} in the logs`)
})

test('`callback-spool config` and the CLI\'s error line mask the credentials of an http --on target', async (t) => {
  process.env.CALLBACK_SPOOL_ON = 'reply=https://hooker:pw-On-Secret-7@app.example.com/hooks\ndelivery=https://token-On-Secret-8@app.example.com/d'
  t.after(() => { delete process.env.CALLBACK_SPOOL_ON })
  for (const json of [false, true]) {
    let out = ''
    const program = createProgram({ logger: pino({ level: 'silent' }), stdout: (text) => { out += text } })
    program.exitOverride()
    await program.parseAsync(['node', 'callback-spool', 'config', ...(json ? ['--json'] : [])])
    assert.match(out, /https:\/\/hooker:\*\*\*@app\.example\.com\/hooks/)
    assert.match(out, /https:\/\/\*\*\*@app\.example\.com\/d/)
    assert.equal(/On-Secret/.test(out), false, out)
  }
  // A route that does not parse is named in the one-line error, without its credentials.
  const cli = await promisify(execFile)(process.execPath, ['bin/callback-spool.js', 'config'], {
    env: { ...process.env, CALLBACK_SPOOL_ON: 'reply=https://hooker:pw-On-Secret-9@[not-a-host/x', CALLBACK_SPOOL_VERBOSE: '1' },
  }).then(() => assert.fail('config accepted a bad URL'), (err: { code: number, stderr: string }) => err)
  assert.equal(cli.code, 78)
  assert.match(cli.stderr, /https:\/\/hooker:\*\*\*@\[not-a-host/)
  assert.equal(cli.stderr.includes('On-Secret'), false)
})

test('maskPhoneNumbers, maskJsonStrings: every spelling of a number in a string masked; dates, segment names, addresses, ids and JSON numbers kept', () => {
  for (const s of ['+33600112233', '+33 6 00 11 22 33', '+33-600-112-233', '0033600112233', '33600112233', '06.00.11.22.33', '(415) 867-5309', 'number=%2B33600112233']) {
    const masked = maskPhoneNumbers(`error: ${s}.`)
    // What is left of the digits: the first few and the last three, never the middle.
    assert.match(masked, /^error: (number=%2B)?\+?\d{3,4}\*+\d{3}\.$/, `${s} -> ${masked}`)
  }
  const kept = ['2026-11-27 12:00:00', '2026-12-07T02:02:05.123Z', '000000000042-20261127T115217123Z.ndjson@1234567890.fragment',
    '0190a1b2-1234-5678-9abc-123456789012', '192.168.100.200', 'SM1234567890abcdef0123456789abcdef', 'exit 65 after 1200 ms', '12345678901234567890']
  for (const s of kept) assert.equal(maskPhoneNumbers(s), s)
  const line = JSON.stringify({ level: 40, time: '2026-12-07T02:02:05.123Z', offset: 123456789012, error: 'HTTP 400: {"to":"+33 6 00 11 22 33"}', target: 'https://u:pw@h.example/x', msg: 'record dead-lettered' })
  const masked = maskJsonStrings(line)
  assert.deepEqual(JSON.parse(masked), { ...JSON.parse(line), error: 'HTTP 400: {"to":"+336*****233"}', target: 'https://u:***@h.example/x' })
  assert.equal(maskUrlCredentials('see http://token@h/ and https://h/p@x'), 'see http://***@h/ and https://h/p@x')
  // A record id whose last group ends in digits, as ids are: kept whole (attempts.json is keyed by it).
  const id = '01a24ed0-1a8f-78da-9352-72d382598181'
  assert.equal(maskPhoneNumbers(`record ${id} failed`), `record ${id} failed`)
  assert.equal(maskJsonStrings(JSON.stringify({ [id]: { id } })), JSON.stringify({ [id]: { id } }))
})

test('an invalid spool line: neither its text nor its number in the warning or the dead letter', async (t) => {
  const dataDir = await tempDir(t)
  await writeSegment(dataDir, 1, '{"v":1,"text": Hello secret friend, "number": "+33 6 00 11 22 33"}\n' + lines([recordWithFields({ number: '+33700998877', status: 'DELIVERED', delivery_date: '2026-11-27 10:00:00' })]))
  const { logger, raw, lines: logLines } = productLogger('info')
  const program = createProgram({ logger, onSignal: () => {} })
  program.exitOverride()
  await program.parseAsync(['node', 'callback-spool', 'process', '--data-dir', dataDir])
  process.exitCode = undefined
  const warning = logLines.find((l) => l.msg === 'invalid spool line dead-lettered') as { reason: string } | undefined
  assert.match(warning?.reason ?? '', /^invalid JSON: Unexpected token/)
  const dead = await readFile(join(dataDir, 'dead', (await readdir(join(dataDir, 'dead')))[0]!), 'utf8')
  const letter = JSON.parse(dead) as { error: string, record: string }
  assert.ok(letter.record.includes('Hello secret friend'), 'the dead letter keeps the line itself')
  for (const text of [raw(), letter.error]) {
    for (const s of ['Hello', 'secr', '6 00 11']) assert.equal(text.includes(s), false, `${s} in ${text}`)
  }
})

test('state/attempts.json keeps a failing handler\'s last error with its numbers and URL credentials masked', async (t) => {
  const dataDir = await tempDir(t)
  await writeSegment(dataDir, 1, lines([recordWithFields({ number: '+33600112233', status: 'DELIVERED', delivery_date: '2026-11-27 10:00:00' })]))
  const { logger } = productLogger('info')
  const program = createProgram({ logger, onSignal: () => {} })
  program.exitOverride()
  await program.parseAsync(['node', 'callback-spool', 'process', '--data-dir', dataDir, '--tries', '1',
    '--on', 'delivery=exec:echo "line busy for +33 6 00 11 22 33, see https://ops:pw-Attempt-5@status.example.com" >&2; exit 75'])
  process.exitCode = undefined
  const text = await readFile(join(dataDir, 'state', 'attempts.json'), 'utf8')
  const [entry] = Object.values(JSON.parse(text) as Record<string, { attempts: number, last_error: string }>)
  assert.equal(entry?.attempts, 1)
  assert.match(entry.last_error, /line busy for \+336\*{5}233, see https:\/\/ops:\*\*\*@status/)
  for (const s of [...SPELLINGS, 'pw-Attempt-5']) assert.equal(text.includes(s), false, `${s} in ${text}`)
})
