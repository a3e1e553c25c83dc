/**
 * HTTP details seen only on a raw socket: what follows an answer that closes the connection,
 * and when `100 Continue` is sent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { startLiveReceiver } from '../helpers/live-receiver.js'
import { openSocket, rawExchange, statusCodes } from '../helpers/raw-socket.js'
import { waitFor } from '../helpers/wait.js'

const TOKEN = 'p1pel1n3dT0k3nXq9Zr'
const head = (lines: string[]): string => lines.join('\r\n') + '\r\n\r\n'
const post = (path: string, body: string, extra: string[] = []): string =>
  head([`POST ${path} HTTP/1.1`, 'Host: x', `Content-Length: ${Buffer.byteLength(body)}`, ...extra]) + body

test('a request pipelined after an answer that closes the connection is neither answered nor spooled', async (t) => {
  const live = await startLiveReceiver(t, { maxBodyBytes: 16, access: { token: TOKEN } })
  const cases: Array<{ status: number, first: string }> = [
    // 404: no token.
    { status: 404, first: post('/no-token', 'a=1') },
    // 413: the declared body is over the limit (and is sent whole).
    { status: 413, first: post(`/${TOKEN}/big`, 'x'.repeat(32)) },
    // 413 while reading a chunked body.
    { status: 413, first: head([`POST /${TOKEN}/chunked HTTP/1.1`, 'Host: x', 'Transfer-Encoding: chunked']) + `20\r\n${'y'.repeat(32)}\r\n0\r\n\r\n` },
  ]
  for (const c of cases) {
    const exchange = await rawExchange(live.port, c.first + post(`/${TOKEN}/pipelined`, 'n=%2B336001'))
    assert.deepEqual(statusCodes(exchange.data), [c.status], `after ${c.status}: one answer, then the connection closed`)
    // A request already being handled would be counted here; none must be.
    await live.server.drained()
  }
  assert.deepEqual(await live.records(), [], 'nothing spooled after an answer that closed the connection')
  // A request pipelined before the closing answer is still answered and spooled; the one after is not.
  const around = await rawExchange(live.port, post(`/${TOKEN}/before`, 'a=1') + post('/no-token', 'a=2') + post(`/${TOKEN}/after`, 'a=3'))
  assert.deepEqual(statusCodes(around.data), [200, 404])
  await live.server.drained()
  assert.deepEqual((await live.records()).map((r) => r.path), ['/before'])
  // A request pipelined after a 200 is still answered and spooled.
  const ok = await rawExchange(live.port, post(`/${TOKEN}/one`, 'a=1') + post(`/${TOKEN}/two`, 'a=2', ['Connection: close']))
  assert.deepEqual(statusCodes(ok.data), [200, 200])
  assert.deepEqual((await live.records()).map((r) => r.path), ['/before', '/one', '/two'])
})

/** Sends the head of a request that expects 100 Continue; resolves with what came back first. */
async function expectContinue (port: number, lines: string[], body?: string): Promise<{ first: string, all: () => string, closed: Promise<unknown> }> {
  const socket = await openSocket(port)
  socket.on('error', () => {})
  let text = ''
  socket.on('data', (c: Buffer) => { text += c.toString('latin1') })
  const closed = once(socket, 'close')
  socket.write(head([...lines, 'Expect: 100-continue']))
  await waitFor('an answer to the head', () => text.includes('\r\n\r\n'), 10_000)
  const first = text
  if (body !== undefined && first.startsWith('HTTP/1.1 100 ')) socket.write(body)
  return { first, all: () => text, closed }
}

test('100 Continue only after the token, the method and the declared length have been checked', async (t) => {
  const live = await startLiveReceiver(t, { maxBodyBytes: 16, access: { token: TOKEN } })
  const refused: Array<{ status: number, lines: string[] }> = [
    { status: 404, lines: ['POST /no-token HTTP/1.1', 'Host: x', 'Content-Length: 3'] },
    { status: 413, lines: [`POST /${TOKEN}/big HTTP/1.1`, 'Host: x', 'Content-Length: 17'] },
    { status: 405, lines: [`PUT /${TOKEN}/put HTTP/1.1`, 'Host: x', 'Content-Length: 3'] },
  ]
  for (const r of refused) {
    const { first } = await expectContinue(live.port, r.lines)
    assert.match(first, new RegExp(`^HTTP/1\\.1 ${r.status} `), `${r.status} first, without 100 Continue`)
  }
  // A request that passes is told to go on, then answered 200 and spooled.
  const good = await expectContinue(live.port, [`POST /${TOKEN}/go HTTP/1.1`, 'Host: x', 'Content-Length: 3', 'Connection: close'], 'a=1')
  assert.match(good.first, /^HTTP\/1\.1 100 Continue\r\n\r\n/)
  await good.closed
  assert.deepEqual(statusCodes(Buffer.from(good.all(), 'latin1')), [100, 200])
  const records = await live.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.path, '/go')
  assert.equal(records[0]!.body, 'a=1')
})
