import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { HttpHandler } from '../../src/processor/handlers/http.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { normaliseCallback, type NormalisedCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { tempDir } from '../helpers/tmp.js'
import { capturingLogger } from '../helpers/logger.js'
import { deliveryRecord, fixtureRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { processorOptions } from '../helpers/processor.js'

async function sample (): Promise<NormalisedCallback> {
  return normaliseCallback(await fixtureRecord('optout-json.http'), new ZonedTimeReader('Europe/Paris'))
}

async function listen (t: TestContext, server: Server): Promise<string> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Writes an endless body as fast as the client takes it; resolves with the bytes taken when the client hangs up. */
function endlessBody (res: ServerResponse): Promise<number> {
  return new Promise((resolve) => {
    const chunk = Buffer.alloc(64 * 1024, 'x')
    let sent = 0
    const state = { closed: false }
    res.on('close', () => { state.closed = true; resolve(sent) })
    const pump = (): void => {
      while (!state.closed) {
        sent += chunk.length
        if (!res.write(chunk)) {
          res.once('drain', pump)
          return
        }
      }
    }
    pump()
  })
}

test('http handler: an endless answer is read a few KiB at most, and its status decides', async (t) => {
  const taken: Array<Promise<number>> = []
  let status = 200
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(status, { 'content-type': 'text/plain' })
    taken.push(endlessBody(res))
  })
  const host = await listen(t, server)
  const h = new HttpHandler(`http://${host}/hook`, 5000)
  t.after(() => h.close())
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  // What the server could push before the handler hung up: socket buffers, not the whole timeout's worth.
  const bytes = await taken[0]!
  assert.ok(bytes < 32 * 1024 * 1024, `${bytes} bytes taken`)
  status = 500
  const failed = await h.handle(await sample())
  assert.equal(failed.outcome, 'retry')
  assert.equal((failed as { error: string }).error, `HTTP 500: ${'x'.repeat(200)}`)
})

test('http handler: the timeout bounds the whole exchange, a body that trickles too', async (t) => {
  let sockets = 0
  const server = createServer((req, res) => {
    req.resume()
    res.writeHead(503)
    const tick = setInterval(() => res.write('.'), 50)
    res.on('close', () => clearInterval(tick))
  })
  server.on('connection', () => { sockets++ })
  const host = await listen(t, server)
  const h = new HttpHandler(`http://${host}/hook`, 400)
  t.after(() => h.close())
  const result = await h.handle(await sample())
  assert.equal(result.outcome, 'retry')
  assert.match((result as { error: string }).error, /^HTTP 503: \.+$/)
  assert.equal(sockets, 1)
})

test('http handler: one kept-alive connection for calls one after the other', async (t) => {
  const seen = new Set<unknown>()
  const server = createServer((req, res) => {
    seen.add(req.socket)
    req.resume()
    req.on('end', () => res.end('ok'))
  })
  const host = await listen(t, server)
  const h = new HttpHandler(`http://${host}/hook`, 5000)
  t.after(() => h.close())
  for (let i = 0; i < 5; i++) assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  assert.equal(seen.size, 1)
})

test('http handler: a kept-alive connection the server closed as it was reused is replaced, once', async (t) => {
  // Answers the first request on each connection, and drops the connection at the second.
  const connections: Socket[] = []
  const server = createTcpServer((socket) => {
    connections.push(socket)
    let requests = 0
    let buffered = ''
    socket.on('error', () => {})
    socket.on('data', (d) => {
      buffered += d.toString('latin1')
      // One request per data event is enough here: the bodies are small.
      if (!/\r\n\r\n[\s\S]*\}$/.test(buffered)) return
      buffered = ''
      if (++requests === 1) socket.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\nkeep-alive: timeout=60\r\n\r\n')
      else socket.destroy()
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { for (const s of connections) s.destroy(); server.close() })
  const h = new HttpHandler(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, 5000)
  t.after(() => h.close())
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  assert.equal(connections.length, 2)
})

test('http handler: user:password in the URL is sent as Basic authentication, and shown masked', async (t) => {
  const received: Array<IncomingMessage['headers']> = []
  const server = createServer((req, res) => {
    received.push(req.headers)
    req.resume()
    req.on('end', () => res.end())
  })
  const host = await listen(t, server)
  const h = new HttpHandler(`http://hook%20user:p%40ss%3Aword@${host}/hook`, 5000)
  t.after(() => h.close())
  assert.deepEqual(await h.handle(await sample()), { outcome: 'done' })
  assert.equal(received[0]!.authorization, `Basic ${Buffer.from('hook user:p@ss:word').toString('base64')}`)
  assert.equal(h.target, `http://hook%20user:***@${host}/hook`)
})

test('http through a pass: the password in a target URL is in no log line, dead letter or state file', async (t) => {
  const dir = await tempDir(t)
  const server = createServer((req, res) => {
    req.resume()
    req.on('end', () => { res.statusCode = req.headers.authorization === undefined ? 401 : 503; res.end('down') })
  })
  const host = await listen(t, server)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const secret = 's3cr3t-pw'
  const options = processorOptions(dir, { routes: [parseRoute(`delivery=http://hook:${secret}@${host}/hook`)], tries: 1, maxAttempts: 2 })
  const { logger, lines: logged } = capturingLogger()
  const text: string[] = []
  const readAll = async (sub: string): Promise<void> => {
    for (const f of await readdir(join(dir, sub))) text.push(await readFile(join(dir, sub, f), 'utf8'))
  }
  // The first pass counts an attempt (state/attempts.json), the second dead-letters the record.
  assert.equal(await runProcessCommand(options, logger, () => {}), 75)
  await readAll('state')
  assert.equal(await runProcessCommand(options, logger, () => {}), 0, `${text.join('\n')}\n${JSON.stringify(logged)}`)
  await readAll('dead')
  text.push(JSON.stringify(logged))
  const all = text.join('\n')
  assert.match(all, /HTTP 503: down/, 'the calls were authenticated, and failed as the server said')
  assert.match(all, new RegExp(`http://hook:\\*\\*\\*@${host}/hook`))
  assert.ok(!all.includes(secret))
})
