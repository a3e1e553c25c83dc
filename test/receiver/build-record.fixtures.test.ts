import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildRecord, encodeRequest, RECORDED_HEADERS, type RequestParts } from '../../src/receiver/build-record.js'
import { decodeRecord, recordBodyBytes } from '../../src/record.js'
import { existsSync } from 'node:fs'
import { FIXTURES_DIR, SHARED_FIXTURES_DIR, loadFixture, loadFixtures, type HttpFixture } from '../helpers/fixtures.js'

function parts (over: Partial<RequestParts> = {}): RequestParts {
  return { method: 'POST', url: '/callbacks', remoteAddr: '203.0.113.7', headers: {}, body: Buffer.alloc(0), ...over }
}

function fromFixture (f: HttpFixture): RequestParts {
  return parts({ method: f.method, url: f.target, headers: f.headers, body: f.body })
}

/** Builds the record through the real encoder and decoder, as the processor will see it. */
function roundTrip (req: RequestParts): ReturnType<typeof buildRecord> {
  const line = encodeRequest(req)
  assert.equal(line.indexOf('\n'), line.length - 1)
  const decoded = decodeRecord(line.slice(0, -1))
  assert.ok(decoded.ok, decoded.ok ? '' : decoded.reason)
  return decoded.record
}

test('record fields: version, id, time, method, path without query, query, remote address', () => {
  const now = new Date('2026-11-27T12:00:00.123Z')
  const r = buildRecord(parts({ url: '/cb/x?a=1&a=2&b=%20', body: Buffer.from('c=3') }), now)
  assert.equal(r.v, 1)
  assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7/)
  assert.equal(r.received_at, '2026-11-27T12:00:00.123Z')
  assert.equal(r.method, 'POST')
  assert.equal(r.path, '/cb/x')
  assert.deepEqual({ ...r.query }, { a: ['1', '2'], b: ' ' })
  assert.equal(r.remote_addr, '203.0.113.7')
  assert.equal(r.body, 'c=3')
  assert.equal(r.body_base64, undefined)
  assert.deepEqual({ ...r.fields }, { a: ['1', '2'], b: ' ', c: '3' })
})

test('fields come from query and body, the body winning on a clash', () => {
  const r = roundTrip(parts({ url: '/?status=query&only=q', body: Buffer.from('{"status":"body","n":1}') }))
  assert.deepEqual(r.fields, { status: 'body', only: 'q', n: 1 })
  const f = roundTrip(parts({ url: '/?status=query', body: Buffer.from('status=form&status=again') }))
  assert.deepEqual(f.fields, { status: ['form', 'again'] })
})

test('JSON is read by the first non-blank byte, not the content type', () => {
  const asForm = roundTrip(parts({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('\n {"a":"json"}') }))
  assert.deepEqual(asForm.fields, { a: 'json' })
  const asJson = roundTrip(parts({ headers: { 'content-type': 'application/json' }, body: Buffer.from('a=form') }))
  assert.deepEqual(asJson.fields, { a: 'form' })
  const none = roundTrip(parts({ body: Buffer.from('{"a":"none"}') }))
  assert.deepEqual(none.fields, { a: 'none' })
})

test('__proto__ and constructor survive the record as plain keys', () => {
  const r = roundTrip(parts({ url: '/?constructor=q', body: Buffer.from('{"__proto__":{"x":1},"constructor":"b"}') }))
  assert.deepEqual(Object.getOwnPropertyDescriptor(r.fields, '__proto__')?.value, { x: 1 })
  assert.equal(Object.getOwnPropertyDescriptor(r.fields, 'constructor')?.value, 'b')
  assert.equal(({} as Record<string, unknown>).x, undefined)
})

test('invalid UTF-8: body_base64 keeps the exact bytes, fields still parse with U+FFFD', () => {
  const bytes = Buffer.concat([Buffer.from('number=%2B33600000000&text=caf'), Buffer.from([0xe9, 0xff]), Buffer.from('+ok')])
  const r = roundTrip(parts({ body: bytes }))
  assert.equal(r.body, undefined)
  assert.equal(typeof r.body_base64, 'string')
  assert.deepEqual(recordBodyBytes(r), bytes)
  assert.deepEqual(r.fields, { number: '+33600000000', text: 'caf\uFFFD\uFFFD ok' })
  const json = Buffer.concat([Buffer.from('{"text":"'), Buffer.from([0xc3]), Buffer.from('"}')])
  const j = roundTrip(parts({ body: json }))
  assert.deepEqual(recordBodyBytes(j), json)
  assert.deepEqual(j.fields, { text: '\uFFFD' })
})

test('a valid UTF-8 body is kept as a string, byte for byte, on one line', () => {
  const text = 'a=1\r\nb=2\u2028 "q" \\ à demain 😀\u0000'
  const r = roundTrip(parts({ body: Buffer.from(text) }))
  assert.equal(r.body, text)
  assert.equal(r.body_base64, undefined)
})

test('header allowlist: content type, user agent and signature headers kept; authorization and cookie never', () => {
  const r = roundTrip(parts({
    headers: {
      'content-type': 'application/json',
      'user-agent': 'Octopush/1.0',
      'x-twilio-signature': 'sig',
      'webhook-signature': 'v1,abc',
      authorization: 'Bearer secret',
      cookie: 'session=secret',
      'proxy-authorization': 'Basic secret',
      'x-api-key': 'secret',
      host: 'example.com',
    },
    body: Buffer.from('{}'),
  }))
  assert.deepEqual(r.headers, {
    'content-type': 'application/json',
    'user-agent': 'Octopush/1.0',
    'x-twilio-signature': 'sig',
    'webhook-signature': 'v1,abc',
  })
  assert.ok(!RECORDED_HEADERS.includes('authorization'))
  assert.ok(!RECORDED_HEADERS.includes('cookie'))
  assert.ok(!encodeRequest(parts({ headers: { authorization: 'Bearer secret', cookie: 'c=secret' } })).includes('secret'))
})

test('a JSON nesting bomb is still recorded, with the raw body', () => {
  const deep = '{"a":' + '['.repeat(200_000) + ']'.repeat(200_000) + '}'
  const line = encodeRequest(parts({ url: '/?q=1', body: Buffer.from(deep) }))
  const decoded = decodeRecord(line.slice(0, -1))
  assert.ok(decoded.ok)
  assert.equal(decoded.record.body, deep)
})

const EXPECTED: Record<string, Record<string, unknown>> = {
  'delivery-form.http': { channel: 'sms', message_id: 'sms_5fa275dbf21dc', number: '+33600112233', status: 'NOT_DELIVERED', delivery_date: '2020-11-04 11:11:45' },
  'delivery-json.http': { channel: 'sms', message_id: 'sms_5fa275dbf21dc', list_name: 'List Name', number: '+33600112233', status: 'DELIVERED', unit_price: 0.5, delivery_date: '2020-11-04 11:11:45', meta_data: {} },
  'optout-form.http': { message_id: 'sms_5fa275dbf21dc', number: '+33600000000', text: 'STOP', stop_date: '2020-11-04 11:11:45' },
  'optout-json.http': { message_id: 'sms_5fa275dbf21dc', number: '+33600000000', text: 'stop', stop_date: '2020-11-04 11:11:45' },
  'reply-form-legacy.http': { message_id: 'sms_5fa275dbf21dc', number: '0033600000000', text: 'Oui merci, à demain', answer_date: '2020-11-04 11:11:45' },
  'reply-json.http': { message_id: 'sms_5fa275dbf21dc', number: '+44600000000', text: 'some reply', sim_card_number: '12345', reception_date: '2020-11-04 11:11:45' },
  'unknown-json.http': { event: 'test', sent_at: '2020-11-04 11:11:45' },
  'voice-delivery-json.http': { channel: 'voice_sms', message_id: 'vsms_61aa2b00c1e2f', number: '+33600112233', status: 'BUSY', delivery_date: '2021-12-03 14:02:10', call_duration: 0, charged_duration: 0, pressed_keys_code: '', meta_data: {} },
}

test('every fixture parses into the right fields, body kept byte for byte', () => {
  const fixtures = loadFixtures()
  assert.deepEqual(fixtures.map((f) => f.name), Object.keys(EXPECTED).sort())
  for (const f of fixtures) {
    assert.ok(!f.body.toString().endsWith('\n'), `${f.name}: the fixture body has no trailing newline`)
    const r = roundTrip(fromFixture(f))
    assert.equal(r.method, 'POST', f.name)
    assert.equal(r.path, '/callbacks', f.name)
    assert.deepEqual(r.fields, EXPECTED[f.name], f.name)
    assert.equal(r.body, f.body.toString('utf8'), f.name)
    assert.equal(r.headers['content-type'], f.headers['content-type'], f.name)
  }
})

test('legacy 0033 number is kept as sent, and accents are decoded', () => {
  const r = roundTrip(fromFixture(loadFixture('reply-form-legacy.http')))
  assert.equal(r.fields.number, '0033600000000')
  assert.equal(r.fields.text, 'Oui merci, à demain')
  assert.ok(r.body!.includes('%C3%A0+demain'), 'the raw body stays percent-encoded')
})

test('test/fixtures is the same as the shared fixtures', (t) => {
  if (!existsSync(SHARED_FIXTURES_DIR)) {
    t.skip(`no shared fixtures at ${SHARED_FIXTURES_DIR} to compare with (a clone on its own)`)
    return
  }
  const copy = loadFixtures(FIXTURES_DIR)
  const shared = loadFixtures(SHARED_FIXTURES_DIR)
  assert.deepEqual(copy, shared)
})
