/**
 * The providers' published signature vectors, each through a real receiver (port 0, a temp data
 * dir): the request as signed gets 200 and is spooled; the same request with one byte, one
 * parameter or one minute of its timestamp changed gets 401 and nothing is spooled. Each vector
 * names the SDK test file it comes from.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac, generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { parsePathBinding, PathBindings } from '../../src/providers/bindings.js'
import { PROFILES } from '../../src/providers/index.js'
import { createBirdVerifier } from '../../src/providers/signatures/bird.js'
import { createMessageBirdVerifier } from '../../src/providers/signatures/messagebird.js'
import { createPlivoVerifier } from '../../src/providers/signatures/plivo.js'
import { createSinchVerifier } from '../../src/providers/signatures/sinch.js'
import { createTelnyxVerifier } from '../../src/providers/signatures/telnyx.js'
import { createTwilioVerifier } from '../../src/providers/signatures/twilio.js'
import type { SignatureVerifier } from '../../src/providers/signatures/verifier.js'
import { createVonageMessagesVerifier, createVonageSmsVerifier } from '../../src/providers/signatures/vonage.js'
import { send, type HttpResult, type SendOptions } from '../helpers/http.js'
import { startLiveReceiver, type LiveReceiver } from '../helpers/live-receiver.js'
import { parseBody } from '../../src/receiver/params.js'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const JSON_TYPE = { 'Content-Type': 'application/json' }

interface Setup { publicUrl?: string, bind?: string }

async function receiver (t: TestContext, verifier: SignatureVerifier, setup: Setup = {}): Promise<LiveReceiver> {
  const bindings = setup.bind === undefined ? undefined : new PathBindings([parsePathBinding(setup.bind, PROFILES)])
  return await startLiveReceiver(t, { access: { signatures: [verifier], publicUrl: setup.publicUrl }, bindings })
}

async function accepted (live: LiveReceiver, request: SendOptions, what: string): Promise<HttpResult> {
  const before = (await live.records()).length
  const res = await send(live.port, request)
  assert.equal(res.status, 200, `${what}: must pass`)
  assert.equal((await live.records()).length, before + 1, `${what}: must be spooled`)
  return res
}

async function refused (live: LiveReceiver, request: SendOptions, what: string): Promise<void> {
  const before = (await live.records()).length
  const res = await send(live.port, request)
  assert.equal(res.status, 401, `${what}: must be refused`)
  assert.equal((await live.records()).length, before, `${what}: nothing spooled`)
}

/** `value` with its byte at `index` (default: the last) changed. */
function oneByte (value: string, index = value.length - 1): string {
  const c = value.charCodeAt(index)
  return value.slice(0, index) + String.fromCharCode(c === 0x41 ? 0x42 : 0x41) + value.slice(index + 1)
}

test('twilio: the twilio-node vectors pass through the receiver; one byte or one parameter more is refused', async (t) => {
  // twilio/twilio-node spec/validation.spec.js: token 12345, this URL and these parameters.
  const token = '12345'
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' }
  const signature = 'RSOYDt4T1cUTdK1PDd93/VVr8B8='
  // Not Twilio's shape (a voice call): the path is bound to Twilio.
  const live = await receiver(t, createTwilioVerifier(token), { publicUrl: 'https://mycompany.com', bind: '/myapp.php=twilio' })
  const path = '/myapp.php?foo=1&bar=2'
  const body = new URLSearchParams(params).toString()
  const res = await accepted(live, { path, body, headers: { ...FORM, 'X-Twilio-Signature': signature } }, 'the published form')
  // Twilio expects TwiML back: the empty <Response/>.
  assert.equal(res.headers['content-type'], 'text/xml')
  assert.match(res.body.toString(), /^<\?xml [^>]*\?><Response><\/Response>$/)
  await refused(live, { path, body: body.replace('Digits=1234', 'Digits=1235'), headers: { ...FORM, 'X-Twilio-Signature': signature } }, 'one byte of the body')
  await refused(live, { path, body: `${body}&Extra=1`, headers: { ...FORM, 'X-Twilio-Signature': signature } }, 'one parameter more')
  await refused(live, { path: '/myapp.php?foo=1&bar=3', body, headers: { ...FORM, 'X-Twilio-Signature': signature } }, 'one byte of the URL')
  await refused(live, { path, body, headers: FORM }, 'no signature')

  // The same spec: a JSON body, signed through bodySHA256 in the URL.
  const json = '{"property": "value", "boolean": true}'
  const jsonPath = '/myapp.php?foo=1&bar=2&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620'
  const jsonSignature = 'a9nBmqA0ju/hNViExpshrM61xv4='
  await accepted(live, { path: jsonPath, body: json, headers: { ...JSON_TYPE, 'X-Twilio-Signature': jsonSignature } }, 'the published JSON body')
  await refused(live, { path: jsonPath, body: json.replace('true', 'fals'), headers: { ...JSON_TYPE, 'X-Twilio-Signature': jsonSignature } }, 'one byte of the JSON body')
})

test('vonage SMS API: the vonage-node-sdk vectors in their five methods pass; a changed byte, parameter or timestamp is refused', async (t) => {
  // Vonage/vonage-node-sdk packages/sms/__tests__/__dataSets__/signature.ts
  const secret = 'my_secret_key_for_testing'
  const params = {
    'message-timestamp': '2013-11-21 15:27:30',
    messageId: '020000001B0FE827',
    msisdn: '14843472194',
    text: 'Test again',
    timestamp: '1385047698',
    to: '13239877404',
    type: 'text',
  }
  const vectors = {
    md5hash: 'd2e7b1dc968737c5998ad624e02f90b7',
    md5: 'DDEBD46008C2D4E93CCE578A332A52D5',
    sha1: '27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A',
    sha256: 'DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330',
    sha512: 'E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82',
  }
  for (const [method, sig] of Object.entries(vectors)) {
    // An inbound message (msisdn and messageId): recognised as Vonage's by its shape, no binding.
    const live = await receiver(t, createVonageSmsVerifier(secret, { method }))
    const query = (p: Record<string, string>): string => `/inbound?${new URLSearchParams(p).toString()}`
    const res = await accepted(live, { method: 'GET', path: query({ ...params, sig }) }, `${method} as a GET`)
    assert.equal(res.body.length, 0)
    await accepted(live, { path: '/inbound', body: new URLSearchParams({ ...params, sig }).toString(), headers: FORM }, `${method} as a form POST`)
    await accepted(live, { path: '/inbound', body: JSON.stringify({ ...params, sig }), headers: JSON_TYPE }, `${method} as a JSON POST`)
    await refused(live, { method: 'GET', path: query({ ...params, text: 'Test agaim', sig }) }, `${method}: one byte of the text`)
    await refused(live, { method: 'GET', path: query({ ...params, keyword: 'TEST', sig }) }, `${method}: one parameter more`)
    await refused(live, { method: 'GET', path: query({ ...params, timestamp: String(Number(params.timestamp) + 60), sig }) }, `${method}: the timestamp a minute later`)
    await refused(live, { method: 'GET', path: query({ ...params, sig: oneByte(sig, 0) }) }, `${method}: one byte of the signature`)
    await refused(live, { method: 'GET', path: query(params) }, `${method}: no signature`)
  }
  // A `?token=` in the URL Vonage calls is one of the parameters it signs, though the record drops it.
  const token = 'tok3n-tok3n-tok3n-tok3n'
  const withToken = await startLiveReceiver(t, { access: { token, signatures: [createVonageSmsVerifier(secret)] } })
  const signedParams = { ...params, token }
  const string = Object.keys(signedParams).sort().map((k) => `&${k}=${signedParams[k as keyof typeof signedParams].replace(/[&=]/g, '_')}`).join('')
  const tokenSig = createHash('md5').update(string + secret).digest('hex')
  await accepted(withToken, { method: 'GET', path: `/inbound?${new URLSearchParams({ ...signedParams, sig: tokenSig }).toString()}` }, 'signed with the token parameter')
  assert.equal((await withToken.records())[0]!.fields.token, undefined)
  await refused(withToken, { method: 'GET', path: `/inbound?${new URLSearchParams({ ...signedParams, sig: vectors.md5hash }).toString()}` }, 'signed without the token parameter it was sent with')
  // Another method than the one configured does not pass.
  const md5hash = await receiver(t, createVonageSmsVerifier(secret, { method: 'md5hash' }))
  await refused(md5hash, { method: 'GET', path: `/inbound?${new URLSearchParams({ ...params, sig: vectors.md5 }).toString()}` }, 'an HMAC-MD5 signature when MD5 hash is configured')
})

/** A compact HS256 JWT, made here from its definition (RFC 7519), for the providers that publish none. */
function hs256 (secret: string, claims: Record<string, unknown>): string {
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')
  const data = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`
  return `${data}.${createHmac('sha256', secret).update(data).digest('base64url')}`
}

test('vonage Messages API: a JWT signed with the signature secret, whose payload_hash is the body\'s, passes; anything else is refused', async (t) => {
  const secret = 'qwertyuiopasdfghjklzxcvbnm123456'
  const live = await receiver(t, createVonageMessagesVerifier(secret))
  // Vonage publishes no Messages webhook vector; vonage-python-sdk jwt/tests/test_verify_jwt.py has
  // an HS256 token with this secret (claims not Vonage's, no payload_hash): it holds for a request
  // without a body, here bound to vonage-messages.
  const published = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM'
  const bound = await receiver(t, createVonageMessagesVerifier(secret), { bind: '/vonage/=vonage-messages' })
  await accepted(bound, { path: '/vonage/status', headers: { Authorization: `Bearer ${published}` } }, 'the published token, no body')
  await refused(bound, { path: '/vonage/status', body: '{"a":1}', headers: { ...JSON_TYPE, Authorization: `Bearer ${published}` } }, 'the published token with a body it does not hash')
  await refused(bound, { path: '/vonage/status', headers: { Authorization: `Bearer ${oneByte(published)}` } }, 'one byte of the published token')
  await refused(bound, { path: '/vonage/status' }, 'no token on a bound path')

  // The docs' SMS status example (PROVIDERS.md 3b), with the claims Vonage's signed webhooks carry.
  const body = '{"message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","to":"447700900000","from":"447700900001","timestamp":"2023-05-01T14:00:00.000Z","status":"delivered"}'
  const payloadHash = createHash('sha256').update(body).digest('hex')
  const iat = Math.floor(Date.now() / 1000)
  const claims = { iat, jti: randomUUID(), iss: 'Vonage', payload_hash: payloadHash, api_key: 'abcd1234', application_id: randomUUID() }
  const token = hs256(secret, claims)
  await accepted(live, { path: '/status', body, headers: { ...JSON_TYPE, Authorization: `Bearer ${token}` } }, 'a signed status')
  await refused(live, { path: '/status', body: body.replace('delivered', 'delivere_'), headers: { ...JSON_TYPE, Authorization: `Bearer ${token}` } }, 'one byte of the body')
  await refused(live, { path: '/status', body: body.replace('}', ',"error":1}'), headers: { ...JSON_TYPE, Authorization: `Bearer ${token}` } }, 'one parameter more')
  // Claims changed without the secret: the signature no longer holds.
  const [h, , s] = token.split('.')
  const later = Buffer.from(JSON.stringify({ ...claims, iat: iat + 60 })).toString('base64url')
  await refused(live, { path: '/status', body, headers: { ...JSON_TYPE, Authorization: `Bearer ${h}.${later}.${s}` } }, 'iat a minute later')
  await refused(live, { path: '/status', body, headers: { ...JSON_TYPE, Authorization: `Bearer ${hs256('another secret', claims)}` } }, 'another secret')
  await refused(live, { path: '/status', body, headers: JSON_TYPE }, 'no token')
})

test('plivo V2: the plivo-node and plivo-go vectors pass; another nonce, path or signature byte is refused, a changed body is not (V2 does not sign it)', async (t) => {
  // plivo/plivo-node test/utils.js and plivo/plivo-go utils_test.go (TestValidateSignatureV2Pass).
  const body = new URLSearchParams({ MessageUUID: 'f4c7c1b0-0000-4000-8000-000000000001', From: '14155551234', To: '14155550000', Type: 'sms', Text: 'Hello' }).toString()
  const cases = [
    { publicUrl: 'https://answer.url', token: 'my_auth_token', nonce: '12345', signature: 'ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=' },
    { publicUrl: 'https://answer.url:8000', token: 'my_auth_token', nonce: '24725744043720739450', signature: 'LDphWoWimP4QM5AoWI1uwP6WmlWtt5ITPZjXIWYvCNU=' },
    { publicUrl: 'https://answer.url:8080', token: 'my_auth_tokens', nonce: '123456', signature: 'xeV6S6BPIQJ/rgKCjCm/Fo2ve5zNe1fatQoHyRT8vxQ=' },
  ]
  for (const c of cases) {
    // An incoming message (MessageUUID): Plivo's by its shape.
    const live = await receiver(t, createPlivoVerifier(c.token), { publicUrl: c.publicUrl })
    const headers = (nonce: string, signature: string): Record<string, string> => ({ ...FORM, 'X-Plivo-Signature-V2': signature, 'X-Plivo-Signature-V2-Nonce': nonce })
    const res = await accepted(live, { path: '/', body, headers: headers(c.nonce, c.signature) }, `${c.publicUrl}`)
    assert.equal(res.headers['content-type'], 'application/xml')
    assert.match(res.body.toString(), /<Response><\/Response>$/)
    // Only the query is left out of what V2 signs.
    await accepted(live, { path: '/?x=1', body, headers: headers(c.nonce, c.signature) }, `${c.publicUrl} with a query`)
    await refused(live, { path: '/', body, headers: headers(oneByte(c.nonce), c.signature) }, `${c.publicUrl}: one byte of the nonce`)
    await refused(live, { path: '/', body, headers: headers(c.nonce, oneByte(c.signature, 0)) }, `${c.publicUrl}: one byte of the signature`)
    await refused(live, { path: '/x', body, headers: headers(c.nonce, c.signature) }, `${c.publicUrl}: another path`)
    await refused(live, { path: '/', body, headers: FORM }, `${c.publicUrl}: no signature`)
    // What V2 leaves open (README): the body is not signed, so a changed one still passes.
    await accepted(live, { path: '/', body: body.replace('Hello', 'STOP'), headers: headers(c.nonce, c.signature) }, `${c.publicUrl}: a body V2 does not cover`)
  }
  // The main account's signature (-Ma-V2) holds as well.
  const live = await receiver(t, createPlivoVerifier('my_auth_token'), { publicUrl: 'https://answer.url' })
  await accepted(live, { path: '/', body, headers: { ...FORM, 'X-Plivo-Signature-Ma-V2': cases[0]!.signature, 'X-Plivo-Signature-V2-Nonce': '12345' } }, '-Ma-V2')
})

test('plivo V3: the plivo-go vectors (POST and GET, with and without a query) pass; one parameter changed, or the nonce, is refused', async (t) => {
  // plivo/plivo-go utils_test.go, TestValidateSignatureV3Pass1..4: token, nonce and these 13 parameters.
  const token = 'Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4'
  const nonce = '31627761595286130198'
  const params = {
    Direction: 'outbound',
    From: '19792014278',
    ALegUUID: '3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36',
    CallStatus: 'in-progress',
    BillRate: '0.002',
    ParentAuthID: 'MANWVLYTK4ZWU1YTY4QA',
    To: 'sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com',
    ALegRequestUUID: '3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36',
    CallUUID: '3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36',
    RequestUUID: '3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36',
    'SIP-H-To': '<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1',
    SessionStart: '2020-04-08 11:34:33.238707',
    Event: 'StartApp',
  }
  // Voice parameters, not a message's shape: the path is bound to Plivo.
  const live = await receiver(t, createPlivoVerifier(token), { publicUrl: 'https://plivobin.non-prod.plivops.com', bind: '/api/=plivo' })
  const form = new URLSearchParams(params).toString()
  const v3 = (signature: string, n = nonce): Record<string, string> => ({ ...FORM, 'X-Plivo-Signature-V3': signature, 'X-Plivo-Signature-V3-Nonce': n })
  const withQuery = '/api/v1/validate_signature03.xml/?a=b&c=d'
  const noQuery = '/api/v1/validate_signature03.xml'
  const cases: Array<{ what: string, request: SendOptions, changed: SendOptions }> = [
    {
      what: 'POST with a query',
      request: { path: withQuery, body: form, headers: v3('k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=') },
      changed: { path: withQuery, body: form.replace('in-progress', 'completed'), headers: v3('k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c=') },
    },
    {
      what: 'GET with a query',
      request: { method: 'GET', path: `${withQuery}&${form}`, headers: v3('UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=') },
      changed: { method: 'GET', path: `${withQuery}&${form}&Extra=1`, headers: v3('UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ=') },
    },
    {
      what: 'POST without a query',
      request: { path: noQuery, body: form, headers: v3('iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0=') },
      changed: { path: noQuery, body: `${form}&Extra=1`, headers: v3('iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0=') },
    },
    {
      what: 'GET without a query (the parameters in it)',
      request: { method: 'GET', path: `${noQuery}?${form}`, headers: v3('i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc=') },
      changed: { method: 'GET', path: `${noQuery}?${form.replace('StartApp', 'StartApq')}`, headers: v3('i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc=') },
    },
  ]
  for (const c of cases) {
    await accepted(live, c.request, c.what)
    await refused(live, c.changed, `${c.what}: one parameter changed`)
    await refused(live, { ...c.request, headers: { ...c.request.headers, 'X-Plivo-Signature-V3-Nonce': oneByte(nonce) } }, `${c.what}: one byte of the nonce`)
  }
  // Several signatures in the header, comma-separated: one that holds is enough.
  await accepted(live, { ...cases[0]!.request, headers: v3(`bm90IGl0, ${'k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c='}`) }, 'a list of signatures')
  // A V3 header that does not hold is not rescued by a V2 one beside it.
  await refused(live, { ...cases[0]!.changed, headers: { ...cases[0]!.changed.headers, 'X-Plivo-Signature-V2': 'x', 'X-Plivo-Signature-V2-Nonce': '1' } }, 'V3 wrong, V2 beside it')
})

test('sinch: the sinch-sdk-node vector passes; one byte of the body, the nonce, or the timestamp a minute later is refused', async (t) => {
  // sinch/sinch-sdk-node packages/sms/tests/rest/v1/callbacks/callbacks-webhook.test.ts
  const body = '{"at":"2025-01-13T09:22:40.914Z","batch_id":"01JHFFHQ0P99JPPNQPJDV7JTBP","client_reference":"a client reference","code":0,"operator_status_at":"2025-01-13T09:22:00Z","recipient":"33662162466","status":"Delivered","type":"recipient_delivery_report_sms"}'
  const headers = (changes: Record<string, string> = {}): Record<string, string> => ({
    ...JSON_TYPE,
    'x-sinch-webhook-signature': 'ZoHei66PPN/kZjw7hFVfGhJOnml3iGNCMWoyQVcE5o0=',
    'x-sinch-webhook-signature-algorithm': 'HmacSHA256',
    'x-sinch-webhook-signature-nonce': '01JHFFHWYY7HSS4FWTMDTQEK8V',
    'x-sinch-webhook-signature-timestamp': '1736760161',
    ...changes,
  })
  // A recipient delivery report: Sinch's by its shape.
  const live = await receiver(t, createSinchVerifier('SMSWebhooksSecret'))
  const res = await accepted(live, { path: '/sinch', body, headers: headers() }, 'the published report')
  assert.equal(res.body.length, 0)
  const recorded = (await live.records()).at(-1)!
  assert.equal(recorded.headers['x-sinch-webhook-signature-nonce'], '01JHFFHWYY7HSS4FWTMDTQEK8V')
  await refused(live, { path: '/sinch', body: body.replace('Delivered', 'Delivere_'), headers: headers() }, 'one byte of the body')
  await refused(live, { path: '/sinch', body: body.replace('}', ',"x":1}'), headers: headers() }, 'one parameter more')
  await refused(live, { path: '/sinch', body, headers: headers({ 'x-sinch-webhook-signature-timestamp': '1736760221' }) }, 'the timestamp a minute later')
  await refused(live, { path: '/sinch', body, headers: headers({ 'x-sinch-webhook-signature-nonce': oneByte('01JHFFHWYY7HSS4FWTMDTQEK8V') }) }, 'one byte of the nonce')
  await refused(live, { path: '/sinch', body, headers: headers({ 'x-sinch-webhook-signature-algorithm': 'HmacSHA1' }) }, 'another algorithm')
  await refused(live, { path: '/sinch', body, headers: JSON_TYPE }, 'no signature')
  await refused(await receiver(t, createSinchVerifier('another secret')), { path: '/sinch', body, headers: headers() }, 'another secret')
})

test('telnyx: a request signed by a key pair made here passes; one byte, the timestamp a minute off, or a timestamp over 5 minutes old is refused', async (t) => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519')
  // The raw 32 bytes, base64, as Telnyx's portal shows a public key.
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')
  const live = await receiver(t, createTelnyxVerifier(raw))
  // The docs' inbound message example (PROVIDERS.md section 6), cut to what the stored copy holds.
  const body = '{"data":{"record_type":"event","id":"bf6307bd-884d-4c1f-b6ea-c62b8c495d3c","event_type":"message.received","occurred_at":"2019-01-23T18:10:02.574Z","payload":{"record_type":"message","direction":"inbound","id":"7ee4241c-f127-47e5-9c34-3aac291f8058","type":"SMS","from":{"phone_number":"+18665550001"},"to":[{"phone_number":"+18445550001","status":"delivered"}],"text":"Hello, World!"}}}'
  const signed = (timestamp: number, b = body): Record<string, string> => ({
    ...JSON_TYPE,
    'telnyx-timestamp': String(timestamp),
    'telnyx-signature-ed25519': sign(null, Buffer.from(`${timestamp}|${b}`), privateKey).toString('base64'),
  })
  const now = Math.floor(Date.now() / 1000)
  await accepted(live, { path: '/telnyx', body, headers: signed(now) }, 'signed now')
  await accepted(live, { path: '/telnyx', body, headers: signed(now - 240) }, 'signed 4 minutes ago')
  await refused(live, { path: '/telnyx', body: body.replace('Hello', 'Hellp'), headers: signed(now) }, 'one byte of the body')
  await refused(live, { path: '/telnyx', body: body.replace('"text"', '"x":1,"text"'), headers: signed(now) }, 'one parameter more')
  await refused(live, { path: '/telnyx', body, headers: { ...signed(now), 'telnyx-timestamp': String(now + 60) } }, 'the timestamp a minute later')
  await refused(live, { path: '/telnyx', body, headers: signed(now - 301) }, 'signed over 5 minutes ago')
  await refused(live, { path: '/telnyx', body, headers: JSON_TYPE }, 'no signature')
  const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')
  await refused(await receiver(t, createTelnyxVerifier(other)), { path: '/telnyx', body, headers: signed(now) }, 'another key')
})

test('messagebird: the go-rest-api reference vectors pass or fail as published, at their time; a minute after exp, valid ones are refused', async (t) => {
  // messagebird/go-rest-api signature_jwt/testdata/reference.json: signing key, "now" and tokens.
  // The receiver takes GET (with a query) and POST: the method is not signed, so the cases for
  // other methods, and the GETs without a query (answered without being spooled), go as a POST.
  const key = '36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb'
  const at = Date.parse('2021-07-05T12:00:00+02:00')
  const cases: Array<{ name: string, method: 'GET' | 'POST', path: string, payload?: string, token: string, valid: boolean }> = [
    { name: 'Valid JWT with no URL parameters or payload', method: 'POST', path: '/', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.6Fp0rVOsRr1fj9S2GidXAfkmPVofKr8_RTffC6G6r2E', valid: true },
    { name: 'Valid JWT with URL parameters and no payload - GET', method: 'GET', path: '/path?bar=1&foo=2', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiJjOTQ2YWY3Ny1lMTgyLTRlYWEtYjJmZi0xYTU0NWI1ZTk5MWEiLCJ1cmxfaGFzaCI6IjQxZjA1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAifQ.huo2ou6JDoDc7sV25d75UMWeYhBeavQlLsqIibSZuac', valid: true },
    { name: 'Valid JWT with URL parameters and payload - POST', method: 'POST', path: '/path?bar=1&foo=2', payload: 'Hello, World!', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYiLCJ1cmxfaGFzaCI6IjQxZjA1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2hhc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWPRC5m9I', valid: true },
    { name: 'Special characters in URL - GET', method: 'GET', path: '/?obj%5Bfield1%5D=val1&obj%5Bfield2%5D=val2&param=value+with+spaces', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjhhZmYzNzQ4ZDc4OWM0MzMzNTczZTFjMzFmZTViMDA0OTQwY2I1ZmM0NzQ2MGVkM2QwZTY1NGY3ZmM0ZTVmYWUifQ.mJBCMfEjKmN3IMuzqPXPHktWETrcu0iNdF3agE8PDyI', valid: true },
    { name: 'Special characters in the payload - POST', method: 'POST', path: '/', payload: 'Some text containg & < >, & and \\u0026', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2hhc2giOiIyNDMxYmQ5Y2NiNDhlZDAxNmZhZDU2N2IwNzcxMjAzOGI1Y2RkOTQ5YWM5ZDQxZmU0NjkzZDVhMzg0NWNmN2U4In0.IQiKzeEPaO3A48lhKmBDSmxZyCESPCGxdSKFdi0dEJs', valid: true },
    { name: 'HS384 alg', method: 'POST', path: '/', token: 'eyJhbGciOiJIUzM4NCIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.KNMW-29X77lZeuPmThmHWc_RUAvTkaDkpxIZK6mqE08v8mWKiU9Edh4QXwAJO2nv', valid: true },
    { name: 'HS512 alg', method: 'POST', path: '/', token: 'eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.rd6r0iMyNGnVPCwurETphE3Y8rpAyvvnUK0S8WvGUkt2E1QSRAZ7NZJZBHw1Y_Wb5W-sK9HJr_PRL2vz4jRT3Q', valid: true },
    { name: 'Token received before it was issued', method: 'POST', path: '/', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ4MjgwMCwiZXhwIjoxNjI1NDgyODYwLCJqdGkiOiJmOWY4YzM4Mi0yNDQ5LTQzMTEtYjcyYi0xZGY3MTY4NzkzMWUiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.ZELgDFNGhjZH9CffQKcq3sytBe2I0KciLxpBhcfstHQ', valid: false },
    { name: 'Token received after it was expired', method: 'POST', path: '/', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3NTYwMCwiZXhwIjoxNjI1NDc1NjYwLCJqdGkiOiI1ZjAyZjUyMi02MDMwLTQ2YzgtYjVhMy0wMTI0NjQ3OGQ4YmMiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.45MSST3B_2PsjNUeiuW54_vUQgVw4rBXrdWrOUEz3lM', valid: false },
    { name: 'Token received on different URL (parameters were sorted out of order) - GET', method: 'GET', path: '/path?foo=1&bar=2', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiJhNzVjOTA5Ni1lODIzLTQ0MmItODVmMi03ZDNjOWQ5YjcyNmIiLCJ1cmxfaGFzaCI6IjZhMDIyZDgzNGMxODMzMGJhYWQ4YTJiZDYxMzUxNzNlZDIxNjEwYTQ1NDUxNmJlMGRmM2YxY2MwMTUxNjEwZWEifQ.z6Sw1XQIM0wuEQGBhXBdawDIIrtMg2XnmA_bpDq53pE', valid: false },
    { name: 'Payload does not match - POST', method: 'POST', path: '/', payload: 'Hello, World!', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiIxNDUwMTUzMi05NmYyLTQ2ODQtOTgzMi02OGYwOTUxYWUzNDIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2hhc2giOiJmYjYyZjAyYWNkYTdkNzQxNzdhNzAxYTFjZTAwNmU2YmFjZDkwYzdkNGQ3YWI0ODE2OTJjMWRhNDdjODEwNzZiIn0.m79RCwO6dGa9pvzsQypkVuXQ6eM0CkRl6_U7MfWg6TM', valid: false },
    { name: 'Different secret', method: 'POST', path: '/', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiIyNDNjMjdhZS0yZjAyLTQ2YTAtODg1Mi1jNjZmMzdlYTlmNDYiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.JgSeYyOtlEKAXk8bz30iJI4tXgf4lxknoiezawuVhb4', valid: false },
    { name: 'payload was removed in transit - POST', method: 'POST', path: '/', payload: '', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiIxNDUwMTUzMi05NmYyLTQ2ODQtOTgzMi02OGYwOTUxYWUzNDIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDciLCJwYXlsb2FkX2hhc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNhNTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0.bHfsjj3tljfzTufoG3EU3p_yFrQh9CufyzRSaRMd4ss', valid: false },
    { name: 'payload was added in transit - POST', method: 'POST', path: '/', payload: 'Hello, World!', token: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.6Fp0rVOsRr1fj9S2GidXAfkmPVofKr8_RTffC6G6r2E', valid: false },
    { name: 'none alg', method: 'POST', path: '/', token: 'eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJNZXNzYWdlQmlyZCIsImlhdCI6MTYyNTQ3OTIwMCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIiLCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4NDYxNzljNzc4M2U5ZDcifQ.', valid: false },
  ]
  // The vectors' parameters are not a status report's shape: every path is bound to MessageBird.
  const setup = { publicUrl: 'https://example.com', bind: '/=messagebird' }
  const live = await receiver(t, createMessageBirdVerifier(key, { now: () => at }), setup)
  const request = (c: typeof cases[number]): SendOptions => ({ method: c.method, path: c.path, body: c.payload, headers: { 'MessageBird-Signature-JWT': c.token } })
  for (const c of cases) {
    if (c.valid) await accepted(live, request(c), c.name)
    else await refused(live, request(c), c.name)
  }
  const valid = cases.filter((c) => c.valid)
  for (const c of valid) {
    await refused(live, { ...request(c), headers: { 'MessageBird-Signature-JWT': oneByte(c.token) } }, `${c.name}: one byte of the token`)
    if (c.payload !== undefined) await refused(live, { ...request(c), body: oneByte(c.payload) }, `${c.name}: one byte of the payload`)
    const extra = c.path.includes('?') ? `${c.path}&x=1` : `${c.path}?x=1`
    await refused(live, { ...request(c), path: extra }, `${c.name}: one parameter more`)
  }
  // exp is nbf + 60 s, with 1 s of skew: a minute later, every valid token is refused.
  const later = await receiver(t, createMessageBirdVerifier(key, { now: () => at + 62_000 }), setup)
  for (const c of valid) await refused(later, request(c), `${c.name}, a minute later`)
})

test('messagebird: a status report signed the older way (MessageBird-Signature) passes by its shape; a parameter, the timestamp or a bad JWT beside it, or a minute later, refused', async (t) => {
  // messagebird/java-rest-api api/src/test/java/com/messagebird/RequestSignerTest.java @ ec4fb1e1474d97f17bdc3928cb717c0c257c04ee
  // (testWithRealSignature), "real signature from MessageBird webhook call": key, timestamp, query, signature.
  // signatures.messagebird-legacy.test.ts checks the verifier against the other SDKs' vectors.
  const key = 'Wb3N9gKeFf8ZoCzlOb5lJSic7bHLUcSu'
  const timestamp = '1547036603'
  const query = 'id=57db52e04e2f4001b555f79813a0f503&mccmnc=20409&ported=0&recipient=31667788880&reference=curl&status=delivered&statusDatetime=2019-01-09T12%3A23%3A23%2B00%3A00'
  const signature = '5Jha9Yyhwgc1nTsgJ9WyzeHilsuUumydICdf4LuIZE8='
  const signed = { 'MessageBird-Signature': signature, 'MessageBird-Request-Timestamp': timestamp }
  const request = (headers: Record<string, string>, q = query): SendOptions => ({ method: 'GET', path: `/mb/status?${q}`, headers })
  // No path bound: a status report's shape names MessageBird. The clock 30 s after the timestamp.
  const live = await receiver(t, createMessageBirdVerifier(key, { now: () => Number(timestamp) * 1000 + 30_000 }))
  await accepted(live, request(signed), 'signed')
  const [record] = await live.records()
  assert.equal(record!.fields.reference, 'curl')
  assert.equal(record!.fields.statusDatetime, '2019-01-09T12:23:23+00:00')
  await refused(live, request(signed, query.replace('reference=curl', 'reference=curv')), 'the reference changed')
  await refused(live, request(signed, `${query}&status=failed`), 'one parameter more')
  await refused(live, request({ ...signed, 'MessageBird-Request-Timestamp': String(Number(timestamp) + 1) }), 'the timestamp changed')
  await refused(live, request({ ...signed, 'MessageBird-Signature-JWT': 'a.b.c' }), 'a bad JWT beside it')
  await refused(live, request({}), 'no signature')
  for (const garbage of ['x', '%%%,,,', 'A'.repeat(1200)]) {
    await refused(live, request({ 'MessageBird-Signature': garbage, 'MessageBird-Request-Timestamp': garbage }), `${garbage.slice(0, 20)} in both headers`)
  }
  const later = await receiver(t, createMessageBirdVerifier(key, { now: () => Number(timestamp) * 1000 + 62_000 }))
  await refused(later, request(signed), 'signed, 62 s later')
})

test('bird: messagebird-signature over the timestamp, the URL and the body\'s SHA-256 holds; a byte, a parameter or the timestamp changed does not', () => {
  // Bird publishes no vector: the signature is made here from its definition ("Bird: verifying a
  // webhook" in its docs), and the verifier is called alone; the next test goes through the receiver.
  const key = 'bird-signing-key'
  const url = 'https://sms.example.com/bird?x=1'
  const body = '{"service":"channels","event":"sms.inbound","payload":{"id":"1","body":{"text":{"text":"STOP"}}}}'
  const timestamp = '1736760161'
  const digest = createHash('sha256').update(body).digest()
  const signature = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${timestamp}\n${url}\n`), digest])).digest('base64')
  const verifier = createBirdVerifier(key)
  const request = (changes: { url?: string, body?: string, timestamp?: string, signature?: string } = {}): Parameters<SignatureVerifier['verify']>[0] => ({
    method: 'POST',
    url: changes.url ?? url,
    headers: { 'messagebird-signature': changes.signature ?? signature, 'messagebird-request-timestamp': changes.timestamp ?? timestamp },
    body: parseBody(Buffer.from(changes.body ?? body)),
  })
  assert.equal(verifier.verify(request()), true)
  assert.equal(verifier.verify(request({ body: body.replace('STOP', 'STOQ') })), false, 'one byte of the body')
  assert.equal(verifier.verify(request({ url: `${url}&y=2` })), false, 'one parameter more')
  assert.equal(verifier.verify(request({ timestamp: String(Number(timestamp) + 60) })), false, 'the timestamp a minute later')
  assert.equal(verifier.verify(request({ signature: oneByte(signature, 0) })), false, 'one byte of the signature')
  assert.equal(createBirdVerifier('another key').verify(request()), false, 'another key')
})

test('bird: a path bound to bird is verified through the receiver, spooled when signed, refused (401, nothing spooled) when not', async (t) => {
  const key = 'bird-signing-key'
  const publicUrl = 'https://sms.example.com'
  const path = '/bird/events?x=1'
  const body = '{"service":"channels","event":"sms.inbound","payload":{"id":"1"}}'
  const timestamp = '1736760161'
  const sign = (b: string, ts: string): string => createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${ts}\n${publicUrl}${path}\n`), createHash('sha256').update(b).digest()])).digest('base64')
  const live = await receiver(t, createBirdVerifier(key), { publicUrl, bind: '/bird/=bird' })
  const request = (headers: Record<string, string>, b = body): SendOptions => ({ method: 'POST', path, body: b, headers: { 'content-type': 'application/json', ...headers } })
  await accepted(live, request({ 'messagebird-signature': sign(body, timestamp), 'messagebird-request-timestamp': timestamp }), 'signed')
  await refused(live, request({ 'messagebird-signature': sign(body, timestamp), 'messagebird-request-timestamp': timestamp }, body.replace('"1"', '"2"')), 'one byte of the body')
  await refused(live, request({ 'messagebird-signature': sign(body, timestamp), 'messagebird-request-timestamp': String(Number(timestamp) + 60) }), 'the timestamp a minute later')
  await refused(live, request({}), 'no signature')
})

test('every verifier answers 401, never 500, to malformed signatures', async (t) => {
  const { publicKey } = generateKeyPairSync('ed25519')
  const telnyxKey = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64')
  const verifiers: Array<[string, SignatureVerifier]> = [
    ['twilio', createTwilioVerifier('k')],
    ['vonage', createVonageSmsVerifier('k', { method: 'sha256' })],
    ['vonage-messages', createVonageMessagesVerifier('k')],
    ['plivo', createPlivoVerifier('k')],
    ['sinch', createSinchVerifier('k')],
    ['telnyx', createTelnyxVerifier(telnyxKey)],
    ['messagebird', createMessageBirdVerifier('k')],
  ]
  const garbage = ['x', '.', '..', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9.e30.', 'eyJhbGciOiJfX3Byb3RvX18ifQ.e30.x', '%%%,,,', 'A'.repeat(1200)]
  for (const [name, verifier] of verifiers) {
    const live = await receiver(t, verifier, { bind: `/=${name}` })
    for (const value of garbage) {
      const headers = {
        'X-Twilio-Signature': value,
        Authorization: `Bearer ${value}`,
        'X-Plivo-Signature-V3': value,
        'X-Plivo-Signature-V3-Nonce': value,
        'x-sinch-webhook-signature': value,
        'x-sinch-webhook-signature-nonce': value,
        'x-sinch-webhook-signature-timestamp': value,
        'telnyx-signature-ed25519': value,
        'telnyx-timestamp': String(Math.floor(Date.now() / 1000)),
        'MessageBird-Signature-JWT': value,
      }
      for (const body of ['', 'sig=x&a=1&a=2', '{"sig":{"x":1}}', '{"a":']) {
        const res = await send(live.port, { path: `/in?sig=${encodeURIComponent(value)}`, body, headers })
        assert.equal(res.status, 401, `${name}: ${value.slice(0, 20)} / ${body}`)
      }
    }
    assert.equal((await live.records()).length, 0)
  }
})
