/**
 * MessageBird's deprecated signature (`MessageBird-Signature` with `MessageBird-Request-Timestamp`),
 * checked by the verifier alone against the vectors of MessageBird's SDKs, each named with its
 * file and commit: they pass at their own time, and fail with one byte of the body, one
 * parameter, the timestamp or the key changed, or when the timestamp is out of the window.
 * signatures.verify.test.ts sends one through a real receiver.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { createMessageBirdVerifier, legacyQuery, messageBirdLegacySignature } from '../../src/providers/signatures/messagebird.js'
import type { SignedRequest } from '../../src/providers/signatures/verifier.js'
import { parseBody } from '../../src/receiver/params.js'

interface Vector { name: string, key: string, timestamp: string, query: string, body: string, signature: string }

// messagebird/go-rest-api signature/signature_test.go @ e0a41ed5af761d3bf62a0cafb918cd90b5834d02
// (TestCalculateSignature, TestValidSignature); the same four in messagebird/java-rest-api
// api/src/test/java/com/messagebird/RequestSignerTest.java @ ec4fb1e1474d97f17bdc3928cb717c0c257c04ee.
const GO: Vector[] = [
  { name: 'go: query and body', key: 'other-secret', timestamp: '1544544948', query: 'abc=foo&def=bar', body: '{"a key":"some value"}', signature: 'orb0adPhRCYND1WCAvPBr+qjm4STGtyvNDIDNBZ4Ir4=' },
  { name: 'go: query out of order', key: 'other-secret', timestamp: '1544544948', query: 'def=bar&abc=foo', body: '{"a key":"some value"}', signature: 'orb0adPhRCYND1WCAvPBr+qjm4STGtyvNDIDNBZ4Ir4=' },
  { name: 'go: no query, no body', key: 'secret', timestamp: '1544544948', query: '', body: '', signature: 'LISw4Je7n0/MkYDgVSzTJm8dW6BkytKTXMZZk1IElMs=' },
  { name: 'go: no query', key: 'secret', timestamp: '1544544948', query: '', body: '{"a key":"some value"}', signature: 'p2e20OtAg39DEmz1ORHpjQ556U4o1ZaH4NWbM9Q8Qjk=' },
  { name: 'go: no body', key: 'secret', timestamp: '1544544948', query: 'abc=foo&def=bar', body: '', signature: 'Tfn+nRUBsn6lQgf6IpxBMS1j9lm7XsGjt5xh47M3jCk=' },
]

// A status report's parameters, in the order the SDKs' tests list them, as a request carries them.
const REPORT = new URLSearchParams({ recipient: '31612345678', reference: 'FOO', statusDatetime: '2019-01-11T09:17:11+00:00', id: 'eef0ab57a9e049be946f3821568c2b2e', status: 'delivered', mccmnc: '20408', ported: '1' }).toString()

// messagebird/php-rest-api tests/Unit/RequestValidatorTest.php @ 7386390396bfc8c74451ecc58cf2017b597cbbc9
// (testVerify, testVerifyWithBody); the first also in messagebird/python-rest-api
// tests/test_signed_request.py @ 2371520004eab2a2d9ff5c0d2e098626a07f8e35 and
// messagebird/messagebird-nodejs lib/test.js @ 2d8b7de16c6c4c24829bc009dfa29c59a68ab189.
const PHP: Vector[] = [
  { name: 'php: status report', key: 'PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd', timestamp: '1547198231', query: REPORT, body: '', signature: 'KVBdcVdz2lYMwcBLZCRITgxUfA/WkwSi+T3Wxl2HL6w=' },
  { name: 'php: status report with a body', key: 'PlLrKaqvZNRR5zAjm42ZT6q1SQxgbbGd', timestamp: '1547198231', query: REPORT, body: '{"foo":"bar"}', signature: '2bl+38H4oHVg03pC3bk2LvCB0IHFgfC4cL5HPQ0LdmI=' },
]

// messagebird/java-rest-api RequestSignerTest.java @ ec4fb1e1474d97f17bdc3928cb717c0c257c04ee
// (testWithRealSignature): "real signature from MessageBird webhook call".
const JAVA_REAL: Vector = {
  name: 'java: a real status report',
  key: 'Wb3N9gKeFf8ZoCzlOb5lJSic7bHLUcSu',
  timestamp: '1547036603',
  query: 'id=57db52e04e2f4001b555f79813a0f503&mccmnc=20409&ported=0&recipient=31667788880&reference=curl&status=delivered&statusDatetime=2019-01-09T12%3A23%3A23%2B00%3A00',
  body: '',
  signature: '5Jha9Yyhwgc1nTsgJ9WyzeHilsuUumydICdf4LuIZE8=',
}

const VECTORS = [...GO, ...PHP, JAVA_REAL]

function request (v: Vector, changes: { url?: string, query?: string, body?: string, headers?: Record<string, string> } = {}): SignedRequest {
  const query = changes.query ?? v.query
  return {
    method: 'GET',
    url: changes.url ?? (query === '' ? 'https://sms.example.com/mb/status' : `https://sms.example.com/mb/status?${query}`),
    headers: changes.headers ?? { 'messagebird-signature': v.signature, 'messagebird-request-timestamp': v.timestamp },
    body: parseBody(Buffer.from(changes.body ?? v.body)),
  }
}

/** The verifier with its clock `offset` seconds after the vector's timestamp. */
function verifierAt (v: Vector, offset = 0, key = v.key): ReturnType<typeof createMessageBirdVerifier> {
  return createMessageBirdVerifier(key, { now: () => (Number(v.timestamp) + offset) * 1000 })
}

/** `value` with its byte at `index` changed. */
function oneByte (value: string, index: number): string {
  const c = value.charCodeAt(index)
  return value.slice(0, index) + String.fromCharCode(c === 0x41 ? 0x42 : 0x41) + value.slice(index + 1)
}

test('messagebird legacy: the signatures of the SDKs\' vectors are computed as published', () => {
  for (const v of VECTORS) {
    assert.equal(messageBirdLegacySignature(v.key, v.timestamp, v.query, Buffer.from(v.body)), v.signature, v.name)
  }
  // go: "Wrong signature" (the key "secret"'s signature, for other-secret's request).
  assert.notEqual(messageBirdLegacySignature('other-secret', '1544544948', 'abc=foo&def=bar', Buffer.from('{"a key":"some value"}')), 'LISw4Je7n0/MkYDgVSzTJm8dW6BkytKTXMZZk1IElMs=')
})

test('messagebird legacy: the query is signed as go-rest-api rebuilds it: decoded, sorted by name, encoded again', () => {
  assert.equal(legacyQuery('def=bar&abc=foo'), 'abc=foo&def=bar')
  // The status report of the PHP, Python and Node tests, in its order: sorted, and `:` `+` encoded.
  assert.equal(legacyQuery(REPORT), 'id=eef0ab57a9e049be946f3821568c2b2e&mccmnc=20408&ported=1&recipient=31612345678&reference=FOO&status=delivered&statusDatetime=2019-01-11T09%3A17%3A11%2B00%3A00')
  // A name's values keep their order; empty pairs are dropped; a name without `=` has an empty value.
  assert.equal(legacyQuery('b=2&a=3&b=1&&c'), 'a=3&b=2&b=1&c=')
  // Go's url.QueryEscape: a space as `+`, all but letters, digits and -_.~ as %XX (upper case).
  assert.equal(legacyQuery('r=a%20b+c&s=%7e-_.!*\'()&t=%c3%a9'), 'r=a+b+c&s=~-_.%21%2A%27%28%29&t=%C3%A9')
  // Sorted by bytes, as Go sorts strings: `Z` before `a`, `a` before `a-b`.
  assert.equal(legacyQuery('a-b=1&a=2&Z=3'), 'Z=3&a=2&a-b=1')
})

test('messagebird legacy: every SDK vector passes at its time; one byte of the body, one parameter, the timestamp, the signature or the key changed is refused', () => {
  for (const v of VECTORS) {
    const verifier = verifierAt(v)
    assert.equal(verifier.verify(request(v)), true, `${v.name}: must pass`)
    assert.equal(verifier.verify(request(v, { body: v.body === '' ? 'x' : oneByte(v.body, 2) })), false, `${v.name}: the body changed`)
    const more = v.query === '' ? 'x=1' : `${v.query}&x=1`
    assert.equal(verifier.verify(request(v, { query: more })), false, `${v.name}: one parameter more`)
    if (v.query !== '') {
      const changed = v.query.replace(/=([^&])/, (_, c: string) => `=${c === '0' ? '1' : '0'}`)
      assert.notEqual(changed, v.query)
      assert.equal(verifier.verify(request(v, { query: changed })), false, `${v.name}: one parameter's value changed`)
    }
    const later = String(Number(v.timestamp) + 1)
    assert.equal(verifier.verify(request(v, { headers: { 'messagebird-signature': v.signature, 'messagebird-request-timestamp': later } })), false, `${v.name}: the timestamp changed`)
    assert.equal(verifier.verify(request(v, { headers: { 'messagebird-signature': oneByte(v.signature, 3), 'messagebird-request-timestamp': v.timestamp } })), false, `${v.name}: one byte of the signature`)
    assert.equal(verifierAt(v, 0, `${v.key}x`).verify(request(v)), false, `${v.name}: another key`)
  }
  // The PHP, Python and Node tests' failing case: the reference changed.
  const php = PHP[0]!
  assert.equal(verifierAt(php).verify(request(php, { query: php.query.replace('FOO', 'BAR') })), false, 'php: reference BAR')
})

test('messagebird legacy: the host, the path, the parameters\' order and their encoding are not signed', () => {
  const v = JAVA_REAL
  const verifier = verifierAt(v)
  assert.equal(verifier.verify(request(v, { url: `http://127.0.0.1:8080/elsewhere?${v.query}` })), true, 'another host and path')
  const reordered = v.query.split('&').reverse().join('&')
  assert.equal(verifier.verify(request(v, { query: reordered })), true, 'the parameters in another order')
  assert.equal(verifier.verify(request(v, { query: v.query.replace('%3A23%3A23%2B', ':23%3a23%2B') })), true, 'the same value encoded otherwise')
  // `+` in a query is a space: the signed `%2B` is not it.
  assert.equal(verifier.verify(request(v, { query: v.query.replace('%2B', '+') })), false, 'a space for the +')
})

test('messagebird legacy: the timestamp holds from 1 s ahead of the clock to 61 s behind it (the JWT\'s 60 s and 1 s of skew); outside, or not a number, refused', () => {
  const v = JAVA_REAL
  for (const offset of [-1, 0, 30, 61]) assert.equal(verifierAt(v, offset).verify(request(v)), true, `clock ${offset} s after the timestamp`)
  for (const offset of [-2, -3600, 62, 3600]) assert.equal(verifierAt(v, offset).verify(request(v)), false, `clock ${offset} s after the timestamp`)
  // The Go SDK's own test: a day either way is refused.
  assert.equal(verifierAt(v, 86_400).verify(request(v)), false, 'a day old')
  assert.equal(verifierAt(v, -86_400).verify(request(v)), false, 'a day ahead')
  // Signed over these timestamps and fresh, yet not plain Unix seconds: refused.
  for (const timestamp of [`${v.timestamp}.0`, `+${v.timestamp}`, ` ${v.timestamp}`, 'x']) {
    const signature = messageBirdLegacySignature(v.key, timestamp, v.query, Buffer.alloc(0))
    const headers = { 'messagebird-signature': signature, 'messagebird-request-timestamp': timestamp }
    assert.equal(verifierAt(v).verify(request(v, { headers })), false, `timestamp ${JSON.stringify(timestamp)}`)
  }
})

test('messagebird legacy: without both headers, refused; with MessageBird-Signature-JWT, the JWT alone decides', () => {
  const v = JAVA_REAL
  const verifier = verifierAt(v)
  assert.equal(verifier.verify(request(v, { headers: {} })), false, 'neither header')
  assert.equal(verifier.verify(request(v, { headers: { 'messagebird-signature': v.signature } })), false, 'no timestamp')
  assert.equal(verifier.verify(request(v, { headers: { 'messagebird-request-timestamp': v.timestamp } })), false, 'no signature')
  assert.equal(verifier.verify(request(v, { headers: { 'messagebird-signature': '', 'messagebird-request-timestamp': v.timestamp } })), false, 'an empty signature')
  for (const garbage of ['x', '%%%', '====', 'A'.repeat(1200), v.signature.slice(0, -1)]) {
    assert.equal(verifier.verify(request(v, { headers: { 'messagebird-signature': garbage, 'messagebird-request-timestamp': v.timestamp } })), false, `signature ${garbage.slice(0, 20)}`)
  }
  // A valid legacy pair beside a JWT that does not hold: refused, the pair is not a fallback.
  const legacy = { 'messagebird-signature': v.signature, 'messagebird-request-timestamp': v.timestamp }
  assert.equal(verifier.verify(request(v, { headers: { ...legacy, 'messagebird-signature-jwt': 'a.b.c' } })), false, 'a bad JWT beside a good pair')

  // A JWT that holds, beside a legacy pair that does not: the JWT decides, as before.
  const key = 'jwt-and-legacy-key'
  const url = `https://sms.example.com/mb/status?${v.query}`
  const nbf = Number(v.timestamp)
  const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: 'MessageBird', nbf, exp: nbf + 60, jti: 'j1', url_hash: createHash('sha256').update(url).digest('hex') })}`
  const jwt = `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`
  const both = createMessageBirdVerifier(key, { now: () => nbf * 1000 })
  const garbage = { 'messagebird-signature': 'x', 'messagebird-request-timestamp': 'x' }
  assert.equal(both.verify(request(v, { url, headers: { ...garbage, 'messagebird-signature-jwt': jwt } })), true, 'a good JWT beside a bad pair')
  assert.equal(both.verify(request(v, { url: `${url}&x=1`, headers: { 'messagebird-signature-jwt': jwt } })), false, 'the JWT still covers the URL')
})
