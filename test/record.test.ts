import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeRecord, encodeRecord, newRecordId, recordBodyBytes, type SpoolRecord } from '../src/record.js'

const UUIDV7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

function sampleRecord (): SpoolRecord {
  return {
    v: 1,
    id: newRecordId(),
    received_at: new Date().toISOString(),
    method: 'POST',
    path: '/callbacks',
    query: { a: '1', r: ['x', 'y'] },
    remote_addr: '127.0.0.1',
    headers: { 'content-type': 'text/plain' },
    body: 'line one\nline two\r\n\u2028\u2029 "quoted" à demain',
    fields: { text: 'à demain', n: 3 },
  }
}

test('newRecordId: UUIDv7, unique and strictly increasing within one millisecond', () => {
  const now = Date.now()
  const ids: string[] = []
  for (let i = 0; i < 10_000; i++) ids.push(newRecordId(now))
  for (const id of ids) assert.match(id, UUIDV7_RE)
  assert.equal(new Set(ids).size, ids.length)
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `id ${i} not after id ${i - 1}`)
  // The first 48 bits are the millisecond timestamp.
  assert.equal(parseInt(ids[0]!.replace(/-/g, '').slice(0, 12), 16), now)
})

test('newRecordId: increasing over real time and when the clock steps back', () => {
  const ids: string[] = []
  for (let i = 0; i < 2000; i++) ids.push(newRecordId())
  const t = Date.now()
  ids.push(newRecordId(t + 5), newRecordId(t - 1000), newRecordId(t + 5))
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `id ${i} not after id ${i - 1}`)
})

test('encodeRecord / decodeRecord round trip, one line whatever the body holds', () => {
  const record = sampleRecord()
  const line = encodeRecord(record)
  assert.ok(line.endsWith('\n'))
  assert.equal(line.indexOf('\n'), line.length - 1, 'exactly one newline, at the end')
  assert.ok(!line.includes('\r'))
  const decoded = decodeRecord(line.slice(0, -1))
  assert.ok(decoded.ok)
  assert.deepEqual(decoded.record, record)
  assert.deepEqual(recordBodyBytes(decoded.record), Buffer.from(record.body!, 'utf8'))
})

test('recordBodyBytes returns the exact bytes of body_base64', () => {
  const bytes = Buffer.from([0x61, 0xff, 0xfe, 0x00, 0x62])
  const { body: _body, ...rest } = sampleRecord()
  const record: SpoolRecord = { ...rest, body_base64: bytes.toString('base64') }
  const decoded = decodeRecord(encodeRecord(record).trimEnd())
  assert.ok(decoded.ok)
  assert.deepEqual(recordBodyBytes(decoded.record), bytes)
})

test('decodeRecord rejects non-JSON, non-objects, a wrong version and missing fields', () => {
  const good = sampleRecord() as unknown as Record<string, unknown>
  const without = (key: string): string => {
    const copy = { ...good }
    delete copy[key]
    return JSON.stringify(copy)
  }
  const bad: Array<[string, string]> = [
    ['not json', '{"v":1,'],
    ['empty', ''],
    ['array', '[1,2]'],
    ['null', 'null'],
    ['string', '"x"'],
    ['version 2', JSON.stringify({ ...good, v: 2 })],
    ['version "1"', JSON.stringify({ ...good, v: '1' })],
    ['no version', without('v')],
    ['no id', without('id')],
    ['bad id', JSON.stringify({ ...good, id: 'nope' })],
    ['no received_at', without('received_at')],
    ['bad received_at', JSON.stringify({ ...good, received_at: 'yesterday' })],
    ['no method', without('method')],
    ['no path', without('path')],
    ['no fields', without('fields')],
    ['array fields', JSON.stringify({ ...good, fields: [] })],
    ['no query', without('query')],
    ['no body', without('body')],
  ]
  assert.equal(decodeRecord(JSON.stringify(good)).ok, true)
  for (const [what, line] of bad) {
    const result = decodeRecord(line)
    assert.equal(result.ok, false, what)
    if (!result.ok) assert.equal(typeof result.reason, 'string', what)
  }
})
