import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeRecord, encodeRecord, isLowerHexUuid, isParsableDate, newRecordId, recordBodyBytes, type SpoolRecord } from '../../src/record.js'

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

test('isLowerHexUuid accepts exactly what /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/ accepts', () => {
  const re = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
  const good = newRecordId()
  const cases = [good, good.toUpperCase(), good.slice(1), good + '0', good.replace(/-/g, '0'), good.replace(/^./, 'g'),
    good.replace(/.$/, '/'), good.replace(/.$/, ':'), good.replace(/.$/, '`'), good.replace(/.$/, 'G'), '', '0'.repeat(36),
    '00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-00000000000\u0660', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ffffffff-ffff-ffff-ffff-fffffffffff\n']
  for (let i = 0; i < 36; i++) cases.push(good.slice(0, i) + '-' + good.slice(i + 1), good.slice(0, i) + 'a' + good.slice(i + 1))
  for (const id of cases) assert.equal(isLowerHexUuid(id), re.test(id), JSON.stringify(id))
  assert.equal(isLowerHexUuid(good), true)
})

test('isParsableDate agrees with Date.parse', () => {
  const cases = ['2026-11-27T12:00:00.000Z', '2026-02-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z',
    '2026-13-01T00:00:00.000Z', '2026-00-01T00:00:00.000Z', '2026-01-00T00:00:00.000Z', '2026-01-32T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z', '2026-01-01T23:60:00.000Z', '2026-01-01T23:59:60.000Z', '2026-01-01T23:59:59.00aZ',
    '2026-01-01T23:59:59.000z', '2026-01-01 23:59:59.000Z', '2026-01-01T23:59:59Z', '2026-01-01', 'yesterday', '',
    '+02026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000+01:00', '2O26-01-01T00:00:00.000Z', '2026-1-01T00:00:00.000ZZ']
  for (let i = 0; i < 24; i++) cases.push('2026-01-01T00:00:00.000Z'.slice(0, i) + '/' + '2026-01-01T00:00:00.000Z'.slice(i + 1))
  for (const text of cases) assert.equal(isParsableDate(text), !Number.isNaN(Date.parse(text)), text)
})
