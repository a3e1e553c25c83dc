/**
 * Fuzz: seeded random bodies and content types thrown at the parser (10,000 in process) and at
 * the real receiver (a share of them over HTTP). No exception escapes, every accepted body is
 * recorded byte for byte, nothing reaches Object.prototype, memory stays bounded.
 * To replay a failure: FUZZ_SEED=<seed printed> node --import tsx --test test/receiver/server.fuzz.test.ts
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'node:http'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { decodeRecord, recordBodyBytes } from '../../src/record.js'
import { buildRecord, encodeRequest } from '../../src/receiver/build-record.js'
import { fuzzGenerator } from '../helpers/fuzz-bodies.js'
import { startLiveReceiver } from '../helpers/live-receiver.js'

const SEED = Number(process.env.FUZZ_SEED ?? 20261127)

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

function heapAfterGc (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

test(`parser: 10,000 random bodies never throw and are recorded byte for byte (seed ${SEED})`, () => {
  const gen = fuzzGenerator(SEED)
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort()
  const kinds = new Map<string, number>()
  let heapStart = 0
  for (let i = 0; i < 10_000; i++) {
    if (i === 1000) heapStart = heapAfterGc()
    const c = gen.next()
    kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1)
    const headers = c.contentType === undefined ? {} : { 'content-type': c.contentType }
    const req = { method: gen.rnd() < 0.9 ? 'POST' : 'GET', url: `/cb?n=${i}&q=${encodeURIComponent(c.body.subarray(0, 20).toString('latin1'))}`, remoteAddr: '127.0.0.1', headers, body: c.body }
    let line: string
    try {
      buildRecord(req)
      line = encodeRequest(req)
    } catch (err) {
      assert.fail(`case ${i} (${c.kind}) threw: ${(err as Error).message}; body base64 ${c.body.toString('base64').slice(0, 200)}`)
    }
    assert.equal(line.indexOf('\n'), line.length - 1, `case ${i}: one line`)
    const decoded = decodeRecord(line.slice(0, -1))
    assert.ok(decoded.ok, `case ${i}: decodes`)
    assert.ok(recordBodyBytes(decoded.record).equals(c.body), `case ${i} (${c.kind}): body byte for byte`)
    assert.equal(decoded.record.query.n, String(i))
  }
  assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoKeys)
  assert.equal(({} as Record<string, unknown>).polluted, undefined)
  // Every kind of input was tried.
  assert.equal(kinds.size, 11)
  const grown = heapAfterGc() - heapStart
  assert.ok(grown < 64 * 1024 * 1024, `heap grew by ${grown} bytes over 9,000 cases`)
})

test(`receiver: 1,500 random bodies over HTTP; every accepted one spooled byte for byte (seed ${SEED})`, async (t) => {
  const maxBodyBytes = 4096
  const live = await startLiveReceiver(t, { maxBodyBytes })
  const gen = fuzzGenerator(SEED + 1)
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  t.after(() => agent.destroy())
  const sent = new Map<string, Buffer>()
  let tooLarge = 0
  let heapStart = 0
  const post = (i: number, body: Buffer, contentType: string | undefined): Promise<number> => new Promise((resolve, reject) => {
    const headers: Record<string, string> = contentType === undefined ? {} : { 'Content-Type': contentType }
    if (gen.rnd() < 0.2) headers['Transfer-Encoding'] = 'chunked'
    const req = request({ host: '127.0.0.1', port: live.port, method: 'POST', path: `/fuzz?n=${i}`, headers, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    if (headers['Transfer-Encoding'] !== undefined && body.length > 1) {
      req.write(body.subarray(0, body.length >> 1))
      req.end(body.subarray(body.length >> 1))
    } else {
      req.end(body)
    }
  })
  const total = 1500
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++
      if (i === 300) heapStart = heapAfterGc()
      const c = gen.next()
      let status: number
      try {
        status = await post(i, c.body, c.contentType)
      } catch (err) {
        // A 413 closes the connection; the client may see the close first. Anything else fails.
        assert.ok(c.body.length > maxBodyBytes, `case ${i} (${c.kind}) failed: ${(err as Error).message}`)
        tooLarge++
        continue
      }
      if (c.body.length > maxBodyBytes) {
        assert.equal(status, 413, `case ${i} (${c.kind}, ${c.body.length} bytes)`)
        tooLarge++
      } else {
        assert.equal(status, 200, `case ${i} (${c.kind})`)
        sent.set(String(i), c.body)
      }
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker))
  assert.ok(tooLarge > 0, 'some bodies were over the limit')
  assert.ok(sent.size > 1000, `${sent.size} accepted`)
  const records = await live.records()
  assert.equal(records.length, sent.size)
  for (const record of records) {
    const n = record.query.n as string
    const body = sent.get(n)
    assert.ok(body !== undefined, `record for case ${n} was not expected`)
    assert.ok(recordBodyBytes(record).equals(body), `case ${n}: body byte for byte`)
    sent.delete(n)
  }
  assert.equal(sent.size, 0)
  const grown = heapAfterGc() - heapStart
  assert.ok(grown < 64 * 1024 * 1024, `heap grew by ${grown} bytes`)
})
