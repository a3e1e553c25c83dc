import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AddressInfo } from 'node:net'
import { pino } from 'pino'
import { createReceiver, type LineAppender, type Receiver } from '../../src/receiver/server.js'
import { SpoolWriter } from '../../src/spool/writer.js'
import { SpoolWriteError } from '../../src/errors.js'
import { tempDir } from '../helpers/tmp.js'
import { readRecords, readSpool } from '../helpers/spool.js'
import { send } from '../helpers/http.js'
import { rawExchange, readResponses, statusCodes } from '../helpers/raw-socket.js'
import { dataLayout } from '../../src/spool/layout.js'

const silent = pino({ level: 'silent' })

interface Started {
  port: number
  dir: string
  server: Receiver
  writer?: SpoolWriter
}

async function start (t: TestContext, options: { maxBodyBytes?: number, requestTimeoutMs?: number, spool?: LineAppender } = {}): Promise<Started> {
  const dir = await tempDir(t)
  let writer: SpoolWriter | undefined
  let spool = options.spool
  if (spool === undefined) {
    writer = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
    spool = writer
  }
  const server = createReceiver({ spool, logger: silent, maxBodyBytes: options.maxBodyBytes, requestTimeoutMs: options.requestTimeoutMs })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(async () => {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
    await writer?.close()
  })
  return { port: (server.address() as AddressInfo).port, dir, server, writer }
}

function assertEmpty200 (res: { status: number, headers: Record<string, unknown>, body: Buffer }): void {
  assert.equal(res.status, 200)
  assert.equal(res.body.length, 0)
  assert.equal(res.headers['content-length'], '0')
  assert.equal(res.headers['content-type'], undefined)
}

test('POST, any path, any body, no content type: empty 200, spooled exactly once', async (t) => {
  const { port, dir } = await start(t)
  const res = await send(port, { path: '/some/where/deep', body: 'id=one&text=hi' })
  assertEmpty200(res)
  const typed = await send(port, { path: '/x', headers: { 'content-type': 'image/png' }, body: '{"id":"two"}' })
  assertEmpty200(typed)
  const empty = await send(port, { path: '/', body: '' })
  assertEmpty200(empty)
  const records = await readRecords(dir)
  assert.equal(records.length, 3)
  assert.deepEqual(records.map((r) => [r.method, r.path, r.body, r.fields]), [
    ['POST', '/some/where/deep', 'id=one&text=hi', { id: 'one', text: 'hi' }],
    ['POST', '/x', '{"id":"two"}', { id: 'two' }],
    ['POST', '/', '', {}],
  ])
  assert.equal(records[0]!.headers['content-type'], undefined)
  assert.equal(records[1]!.headers['content-type'], 'image/png')
  assert.equal(records[0]!.remote_addr, '127.0.0.1')
})

test('GET with a query string: empty 200, spooled', async (t) => {
  const { port, dir } = await start(t)
  assertEmpty200(await send(port, { method: 'GET', path: '/cb?message_id=m1&number=%2B33600000000' }))
  const records = await readRecords(dir)
  assert.equal(records.length, 1)
  assert.equal(records[0]!.method, 'GET')
  assert.equal(records[0]!.path, '/cb')
  assert.deepEqual(records[0]!.fields, { message_id: 'm1', number: '+33600000000' })
})

test('GET without a query string, and any HEAD: 200, zero bytes, not spooled', async (t) => {
  const { port, dir } = await start(t)
  for (const [method, path] of [['GET', '/'], ['GET', '/health?'], ['HEAD', '/'], ['HEAD', '/x?a=1']] as const) {
    const res = await send(port, { method, path })
    assert.equal(res.status, 200, `${method} ${path}`)
    assert.equal(res.body.length, 0)
    assert.equal(res.headers['content-length'], '0')
  }
  assert.deepEqual((await readSpool(dir)).lines, [])
})

test('PUT, DELETE, PATCH: 405 with Allow, not spooled', async (t) => {
  const { port, dir } = await start(t)
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    const res = await send(port, { method, path: '/cb?a=1', body: 'a=1' })
    assert.equal(res.status, 405, method)
    assert.equal(res.headers.allow, 'GET, HEAD, POST')
  }
  assert.deepEqual((await readSpool(dir)).lines, [])
})

test('body over the limit by Content-Length: 413, not spooled; at the limit: 200', async (t) => {
  const { port, dir } = await start(t, { maxBodyBytes: 100 })
  const atLimit = await send(port, { body: 'a'.repeat(100) })
  assert.equal(atLimit.status, 200)
  const raw = await rawExchange(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n${'b'.repeat(101)}`)
  assert.deepEqual(statusCodes(raw.data), [413])
  // A declared size far over the limit is refused before the body is sent.
  const big = await rawExchange(port, 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nabc')
  assert.deepEqual(statusCodes(big.data), [413])
  const records = await readRecords(dir)
  assert.deepEqual(records.map((r) => r.body), ['a'.repeat(100)])
})

test('chunked body over the limit (no Content-Length): 413 while reading, not spooled', async (t) => {
  const { port, dir } = await start(t, { maxBodyBytes: 1000 })
  const small = await send(port, { chunks: ['a'.repeat(500), 'b'.repeat(500)] })
  assert.equal(small.status, 200)
  const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`
  const raw = await rawExchange(port,
    'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk('c'.repeat(600)) + chunk('d'.repeat(600)) + '0\r\n\r\n')
  assert.deepEqual(statusCodes(raw.data), [413])
  // The server must not wait for the end of an endless chunked body.
  const endless = connect({ host: '127.0.0.1', port })
  t.after(() => { endless.destroy() })
  await once(endless, 'connect')
  endless.write('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' + chunk('e'.repeat(1200)))
  const answer = await readResponses(endless, 1)
  assert.deepEqual(statusCodes(Buffer.from(answer, 'latin1')), [413])
  const records = await readRecords(dir)
  assert.deepEqual(records.map((r) => r.body), ['a'.repeat(500) + 'b'.repeat(500)])
})

test('the spool cannot be written: 503 with Retry-After, nothing acknowledged', async (t) => {
  let calls = 0
  const failing: LineAppender = {
    append () {
      calls++
      return Promise.reject(new SpoolWriteError('ENOSPC: no space left on device'))
    },
  }
  const { port, server } = await start(t, { spool: failing })
  const res = await send(port, { body: 'id=1' })
  assert.equal(res.status, 503)
  assert.equal(res.headers['retry-after'], '5')
  assert.equal(res.body.length, 0)
  assert.equal(calls, 1)
  assert.equal(server.stats.recordsSpooled, 0)
  assert.equal(server.stats.responses.get(200), undefined)
})

for (const [what, bytes] of [
  ['headers', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Le'],
  ['body', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nid=stalled'],
] as const) {
  test(`stalled ${what}: the connection is closed after the request timeout, nothing spooled`, async (t) => {
    const { port, dir } = await start(t, { requestTimeoutMs: 500 })
    const raw = await rawExchange(port, bytes, 10_000)
    assert.ok(raw.closedAfterMs < 500 + 1500, `closed after ${raw.closedAfterMs} ms`)
    assert.ok(!statusCodes(raw.data).includes(200))
    assert.deepEqual((await readSpool(dir)).lines, [])
  })
}

test('keep-alive: two requests on one connection, both answered and spooled', async (t) => {
  const { port, dir } = await start(t)
  const socket = connect({ host: '127.0.0.1', port })
  t.after(() => { socket.destroy() })
  await once(socket, 'connect')
  socket.write('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nid=1')
  const first = await readResponses(socket, 1)
  socket.write('POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nid=2')
  const second = await readResponses(socket, 1)
  assert.deepEqual([...statusCodes(Buffer.from(first, 'latin1')), ...statusCodes(Buffer.from(second, 'latin1'))], [200, 200])
  const records = await readRecords(dir)
  assert.deepEqual(records.map((r) => [r.path, r.fields.id]), [['/a', '1'], ['/b', '2']])
})

test('pipelined: two requests written back to back, both answered in order and spooled', async (t) => {
  const { port, dir } = await start(t)
  const socket = connect({ host: '127.0.0.1', port })
  t.after(() => { socket.destroy() })
  await once(socket, 'connect')
  socket.write('POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nid=1' +
    'GET /b?id=2 HTTP/1.1\r\nHost: x\r\n\r\n')
  const text = await readResponses(socket, 2)
  assert.deepEqual(statusCodes(Buffer.from(text, 'latin1')), [200, 200])
  const records = await readRecords(dir)
  assert.deepEqual(records.map((r) => [r.method, r.path, r.fields.id]).sort(), [['GET', '/b', '2'], ['POST', '/a', '1']])
})

test('concurrent requests are each spooled exactly once, in shared batches', async (t) => {
  const { port, dir, writer } = await start(t)
  const n = 64
  const results = await Promise.all(Array.from({ length: n }, (_, i) => send(port, { body: `id=${i}` })))
  assert.ok(results.every((r) => r.status === 200))
  // Group commit: the requests that arrive during a sync share the next write and sync.
  assert.equal(writer!.stats.records, n)
  assert.ok(writer!.stats.batches < n, `${writer!.stats.batches} batches for ${n} requests`)
  const ids = (await readRecords(dir)).map((r) => r.fields.id as string)
  assert.equal(ids.length, n)
  assert.deepEqual(new Set(ids), new Set(Array.from({ length: n }, (_, i) => String(i))))
})

test('a body trickled in below the limit still ends at the request timeout, nothing spooled', async (t) => {
  const { port, dir } = await start(t, { requestTimeoutMs: 1000 })
  const socket = connect({ host: '127.0.0.1', port })
  t.after(() => { socket.destroy() })
  await once(socket, 'connect')
  const openedAt = Date.now()
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n')
  const trickle = setInterval(() => { if (!socket.destroyed) socket.write('a') }, 100)
  t.after(() => clearInterval(trickle))
  socket.resume()
  socket.on('error', () => {})
  await once(socket, 'close')
  clearInterval(trickle)
  const closedAfterMs = Date.now() - openedAt
  assert.ok(closedAfterMs < 1000 + 1500, `closed after ${closedAfterMs} ms`)
  assert.deepEqual((await readSpool(dir)).lines, [])
})

test('the 200 is sent only once the spool says the line is durable', async (t) => {
  let release: (() => void) | undefined
  const appended: string[] = []
  const slow: LineAppender = {
    append (l) {
      appended.push(l)
      return new Promise<void>((resolve) => { release = resolve })
    },
  }
  const { port } = await start(t, { spool: slow })
  let answered = false
  const pending = send(port, { body: 'id=slow' }).then((res) => { answered = true; return res })
  for (let i = 0; i < 1000 && appended.length === 0; i++) await sleep(10)
  await sleep(300)
  assert.equal(answered, false, 'answered before the line was durable')
  assert.equal(appended.length, 1)
  assert.ok(appended[0]!.endsWith('\n'))
  assert.ok(release !== undefined)
  release()
  assertEmpty200(await pending)
})
