/**
 * Attacks against the real receiver, one test each: the right status, nothing spooled for the
 * attack, and a normal callback right after still answered 200 and spooled.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Socket } from 'node:net'
import { recordBodyBytes } from '../../src/record.js'
import { send } from '../helpers/http.js'
import { sendNormalCallback, startLiveReceiver, type LiveReceiver } from '../helpers/live-receiver.js'
import { openSocket, sendRaw } from '../helpers/raw-socket.js'

/** Asserts nothing was spooled beyond `before` records, then that a normal callback still gets in. */
async function assertStillServing (live: LiveReceiver, before = 0): Promise<void> {
  assert.equal((await live.records()).length, before, 'nothing spooled for the attack')
  assert.equal(await sendNormalCallback(live.port, '/after', 'after-attack'), 200)
  const records = await live.records()
  assert.equal(records.length, before + 1)
  assert.equal(records.at(-1)!.path, '/after')
}

const head = (lines: string[]): string => lines.join('\r\n') + '\r\n\r\n'

test('declared body over the limit: 413, nothing spooled', async (t) => {
  const live = await startLiveReceiver(t, { maxBodyBytes: 1000 })
  const res = await sendRaw(live.port, head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 1001']) + 'a'.repeat(100))
  assert.equal(res.status, 413)
  await assertStillServing(live)
})

test('chunked body over the limit: 413, nothing spooled', async (t) => {
  const live = await startLiveReceiver(t, { maxBodyBytes: 1000 })
  const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`
  const res = await sendRaw(live.port, [
    head(['POST / HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked']),
    chunk('a'.repeat(600)),
    chunk('b'.repeat(600)),
    '0\r\n\r\n',
  ])
  assert.equal(res.status, 413)
  await assertStillServing(live)
})

test('Content-Length lying short: only the declared bytes are the request; the rest is refused as not HTTP', async (t) => {
  const live = await startLiveReceiver(t)
  const res = await sendRaw(live.port, head(['POST /short HTTP/1.1', 'Host: x', 'Content-Length: 5']) + 'helloTHE REST IS NOT A REQUEST\r\n\r\n')
  // The declared bytes are a complete request: spooled and acknowledged before the junk is refused.
  assert.match(res.response, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nHTTP\/1\.1 400 /)
  assert.equal(res.closed, true)
  const records = await live.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.body, 'hello')
  await assertStillServing(live, 1)
})

test('Content-Length lying long: the connection is closed at the timeout (or on EOF), nothing spooled', async (t) => {
  const live = await startLiveReceiver(t, { requestTimeoutMs: 500 })
  const stalled = await sendRaw(live.port, head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 100']) + 'only ten b', { waitMs: 4000 })
  assert.equal(stalled.closed, true)
  assert.notEqual(stalled.status, 200)
  const eof = await sendRaw(live.port, head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 100']) + 'only ten b', { end: true, waitMs: 4000 })
  assert.equal(eof.closed, true)
  assert.notEqual(eof.status, 200)
  await assertStillServing(live)
})

/**
 * Opens a connection, writes `first`, then one more piece every 100 ms (up to `maxPieces`, or
 * 5 s) until the server closes it; says how many pieces went and how long it lasted.
 */
async function trickle (port: number, first: string, piece: (n: number) => string, maxPieces = Number.POSITIVE_INFINITY): Promise<{ sent: number, ms: number }> {
  const socket = await openSocket(port)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  socket.on('error', () => {})
  socket.write(first)
  const started = Date.now()
  let sent = 0
  while (!socket.destroyed && sent < maxPieces && Date.now() - started < 5000) {
    socket.write(piece(sent++))
    await sleep(100)
  }
  await closed
  return { sent, ms: Date.now() - started }
}

test('a body trickling in too slowly: closed at the request timeout, nothing spooled', async (t) => {
  const live = await startLiveReceiver(t, { requestTimeoutMs: 500 })
  const { sent } = await trickle(live.port, head(['POST / HTTP/1.1', 'Host: x', 'Content-Length: 40']), () => 'x', 40)
  assert.ok(sent < 40, `the server waited for the whole trickle (${sent} bytes)`)
  await assertStillServing(live)
})

test('headers that never end: closed at the headers timeout, nothing spooled', async (t) => {
  const live = await startLiveReceiver(t, { requestTimeoutMs: 500 })
  const { ms } = await trickle(live.port, 'POST / HTTP/1.1\r\nHost: x\r\n', (n) => `X-Slow-${n}: y\r\n`)
  assert.ok(ms < 5000, 'the connection was closed by the server')
  await assertStillServing(live)
})

test('slowloris: 300 connections with unfinished headers do not starve a real request, and are freed', async (t) => {
  // Long enough that all 300 are still open once the last is, on a loaded machine too.
  const live = await startLiveReceiver(t, { requestTimeoutMs: 4000 })
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() })
  for (let i = 0; i < 300; i++) {
    const s = await openSocket(live.port)
    s.on('error', () => {})
    // Read, so the client side sees the server's close.
    s.resume()
    s.write(`POST /loris-${i} HTTP/1.1\r\nHost: x\r\n`)
    sockets.push(s)
  }
  const count = (): Promise<number> => new Promise((resolve, reject) => live.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
  assert.ok(await count() >= 300)
  // While they hang: a real callback is answered.
  assert.equal(await sendNormalCallback(live.port, '/during', 'during'), 200)
  // Then the server closes them all at the timeout.
  const started = Date.now()
  while (sockets.some((s) => !s.destroyed) && Date.now() - started < 15_000) await sleep(50)
  assert.equal(sockets.filter((s) => !s.destroyed).length, 0, 'stalled connections still open')
  assert.equal(await count(), 0)
  const records = await live.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.path, '/during')
  await assertStillServing(live, 1)
})

test('headers too large, or too many: 431, nothing spooled', async (t) => {
  const live = await startLiveReceiver(t)
  const large = await sendRaw(live.port, head(['POST / HTTP/1.1', 'Host: x', `X-Big: ${'a'.repeat(20_000)}`, 'Content-Length: 3']) + 'a=1')
  assert.equal(large.status, 431)
  const many = Array.from({ length: 150 }, (_, i) => `X-H${i}: v`)
  const tooMany = await sendRaw(live.port, head(['POST / HTTP/1.1', 'Host: x', ...many, 'Content-Length: 3']) + 'a=1')
  assert.equal(tooMany.status, 431)
  await assertStillServing(live)
})

test('a request line that is not HTTP: 400, nothing spooled', async (t) => {
  const live = await startLiveReceiver(t)
  for (const junk of ['HELLO WORLD\r\n\r\n', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 'POST / HTTP/9.9\r\n\r\n', 'GET /\x00 HTTP/1.1\r\n\r\n']) {
    const res = await sendRaw(live.port, junk)
    assert.equal(res.status, 400, JSON.stringify(junk))
  }
  await assertStillServing(live)
})

/** Sends a body, expects 200, and checks it was recorded byte for byte; returns the record. */
async function roundTrip (t: TestContext, live: LiveReceiver, body: Buffer, contentType: string | undefined) {
  const before = (await live.records()).length
  const headers: Record<string, string> = contentType === undefined ? {} : { 'Content-Type': contentType }
  const res = await send(live.port, { method: 'POST', path: '/odd', body, headers })
  assert.equal(res.status, 200)
  const records = await live.records()
  assert.equal(records.length, before + 1)
  const record = records.at(-1)!
  assert.ok(recordBodyBytes(record).equals(body), 'body recorded byte for byte')
  return record
}

test('bodies that parse badly are still recorded byte for byte, and never pollute a prototype', async (t) => {
  const live = await startLiveReceiver(t, { maxBodyBytes: 2 * 1024 * 1024 })
  const json = 'application/json'
  const form = 'application/x-www-form-urlencoded'

  const invalidJson = await roundTrip(t, live, Buffer.from('{"number": "+33600112233", "text": '), json)
  assert.deepEqual(Object.keys(invalidJson.fields), [])

  const invalidUtf8 = await roundTrip(t, live, Buffer.from([0x6e, 0x3d, 0xff, 0xfe, 0xc3, 0x28, 0x26, 0x61, 0x3d, 0x31]), form)
  assert.equal(typeof invalidUtf8.body_base64, 'string')
  assert.equal(invalidUtf8.fields.a, '1')

  // 30,000 nested arrays: within the limit, so recorded; the fields may be empty, never a crash.
  const bomb = Buffer.from(`{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}`)
  await roundTrip(t, live, bomb, json)

  const protoJson = await roundTrip(t, live, Buffer.from('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}, "number": "+33600112233"}'), json)
  assert.deepEqual(Object.keys(protoJson.fields).sort(), ['__proto__', 'constructor', 'number'])
  const protoForm = await roundTrip(t, live, Buffer.from('__proto__[polluted]=yes&__proto__=x&constructor[prototype][polluted]=yes&toString=1&hasOwnProperty=2'), form)
  assert.equal(Object.getOwnPropertyDescriptor(protoForm.fields, '__proto__')?.value, 'x')
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  assert.equal(Object.hasOwn(Object.prototype, 'polluted'), false)

  const nul = await roundTrip(t, live, Buffer.from('number=%2B33600112233&text=a\u0000b%00c'), form)
  assert.equal(nul.fields.text, 'a\u0000b\u0000c')

  const crlf = await roundTrip(t, live, Buffer.from('{"text": "line1\\r\\nline2", "raw": "x\r\ny"}'), json)
  assert.equal(crlf.body!.includes('\r\n'), true)
  const crlfForm = await roundTrip(t, live, Buffer.from('text=line1%0D%0A%7B%22v%22%3A1%7D&x=\r\n'), form)
  assert.equal(crlfForm.fields.text, 'line1\r\n{"v":1}')

  // Content types that lie: the bytes decide.
  const lyingForm = await roundTrip(t, live, Buffer.from('{"number": "+33600112233"}'), form)
  assert.equal(lyingForm.fields.number, '+33600112233')
  const lyingJson = await roundTrip(t, live, Buffer.from('number=%2B33600112233'), json)
  assert.equal(lyingJson.fields.number, '+33600112233')
  await roundTrip(t, live, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00]), 'text/plain; charset=utf-8')
  await roundTrip(t, live, Buffer.from('a=1'), 'multipart/form-data; boundary="\t;;="')

  // Every line in the spool is still one line.
  const records = await live.records()
  assert.equal(records.length, 12)
  await assertStillServing(live, 12)
})

test('100,000 form fields: recorded byte for byte, parsed, nothing leaks', async (t) => {
  const live = await startLiveReceiver(t, { maxBodyBytes: 2 * 1024 * 1024 })
  const manyFields = Buffer.from(Array.from({ length: 100_000 }, (_, i) => `f${i}=${i}`).join('&'))
  const many = await roundTrip(t, live, manyFields, 'application/x-www-form-urlencoded')
  assert.equal(Object.keys(many.fields).length, 100_000)
  assert.equal(many.fields.f99999, '99999')
  await assertStillServing(live, 1)
})

test('--max-connections: connections beyond the cap are refused, those in progress finish normally', async (t) => {
  const live = await startLiveReceiver(t, { maxConnections: 3 })
  const inProgress: Socket[] = []
  const answers: Array<Promise<string>> = []
  for (let i = 0; i < 3; i++) {
    const s = await openSocket(live.port)
    const chunks: Buffer[] = []
    s.on('data', (c: Buffer) => chunks.push(c))
    answers.push(new Promise((resolve) => s.once('close', () => resolve(Buffer.concat(chunks).toString()))))
    s.write(head([`POST /held-${i} HTTP/1.1`, 'Host: x', 'Content-Length: 10', 'Connection: close']) + '01234')
    inProgress.push(s)
  }
  await sleep(100)
  // The fourth is closed at once, with no answer.
  const extra = await sendRaw(live.port, head(['POST /extra HTTP/1.1', 'Host: x', 'Content-Length: 3']) + 'a=1', { waitMs: 2000 })
  assert.equal(extra.closed, true)
  assert.equal(extra.status, 0)
  assert.equal((await live.records()).length, 0)
  for (const s of inProgress) s.write('56789')
  const responses = await Promise.all(answers)
  for (const r of responses) assert.match(r, /^HTTP\/1\.1 200 /)
  const records = await live.records()
  assert.deepEqual(records.map((r) => r.path).sort(), ['/held-0', '/held-1', '/held-2'])
  for (const r of records) assert.equal(r.body, '0123456789')
  await assertStillServing(live, 3)
})
