import { test } from 'node:test'
import { createHash } from 'node:crypto'
import assert from 'node:assert/strict'
import { createTwilioVerifier, twilioSignature } from '../../src/providers/signatures/twilio.js'
import { send } from '../helpers/http.js'
import { startLiveReceiver } from '../helpers/live-receiver.js'
import { sendRaw } from '../helpers/raw-socket.js'
import { parsePathBinding, PathBindings } from '../../src/providers/bindings.js'
import { PROFILES } from '../../src/providers/index.js'

const AUTH_TOKEN = 'c0ffeec0ffeec0ffeec0ffeec0ffee00'
const PATH = '/twilio?a=1'
/** Every path is Twilio's: whatever the shape of the body, Twilio's signature must hold. */
const bindings = new PathBindings([parsePathBinding('/=twilio', PROFILES)])

test('twilio: a captured URL-only signature cannot carry a forged body (forged STOPs get 401, nothing spooled)', async (t) => {
  const live = await startLiveReceiver(t, { access: { signatures: [createTwilioVerifier(AUTH_TOKEN)] }, bindings })
  // What an attacker can capture once: a signature over the URL alone (a bodyless callback or a GET).
  const urlOnly = twilioSignature(AUTH_TOKEN, `http://127.0.0.1:${live.port}${PATH}`, [])
  const stop = 'number=%2B33600112233&stop_date=2026-12-01+10%3A00%3A00&text=STOP'
  const forged: Array<{ method: string, body: string, headers?: Record<string, string> }> = [
    // JSON to a verifier that looks at the first byte, a form to the parser.
    { method: 'POST', body: `[&${stop}` },
    { method: 'POST', body: ` \r\n[&${stop}` },
    { method: 'POST', body: `{&${stop}` },
    { method: 'POST', body: `[&${stop}`, headers: { 'Content-Type': 'application/json' } },
    { method: 'POST', body: JSON.stringify({ number: '+33600112233', text: 'STOP' }), headers: { 'Content-Type': 'application/json' } },
  ]
  for (const f of forged) {
    const res = await send(live.port, { method: f.method, path: PATH, body: f.body, headers: { ...f.headers, 'X-Twilio-Signature': urlOnly } })
    assert.equal(res.status, 401, `${f.method} ${JSON.stringify(f.body)} must be refused`)
  }
  // A GET is signed over its URL only: a body it carries is covered by nothing. (node:http's
  // client sends no Content-Length on a GET, so these are written by hand.)
  for (const body of [stop, `[&${stop}`]) {
    const res = await sendRaw(live.port, `GET ${PATH} HTTP/1.1\r\nHost: 127.0.0.1:${live.port}\r\nX-Twilio-Signature: ${urlOnly}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`)
    assert.equal(res.status, 401, `GET ${JSON.stringify(body)} must be refused`)
  }
  assert.deepEqual(await live.records(), [])

  // What that signature does cover still passes: the URL with no body.
  assert.equal((await send(live.port, { method: 'POST', path: PATH, headers: { 'X-Twilio-Signature': urlOnly } })).status, 200)
  assert.equal((await send(live.port, { method: 'GET', path: PATH, headers: { 'X-Twilio-Signature': urlOnly } })).status, 200)
  const recorded = await live.records()
  assert.equal(recorded.length, 2)
  for (const r of recorded) assert.deepEqual({ ...r.fields }, { a: '1' })
})

test('twilio: a JSON body passes only with a matching bodySHA256 in the signed URL', async (t) => {
  const live = await startLiveReceiver(t, { access: { signatures: [createTwilioVerifier(AUTH_TOKEN)] }, bindings })
  const body = JSON.stringify({ MessageSid: 'SM1', From: '+33600112233', Body: 'STOP' })
  const json = { 'Content-Type': 'application/json' }
  const hash = createHash('sha256').update(body).digest('hex')
  const path = `/events?bodySHA256=${hash}`
  const sig = twilioSignature(AUTH_TOKEN, `http://127.0.0.1:${live.port}${path}`, [])
  assert.equal((await send(live.port, { method: 'POST', path, body: body.replace('SM1', 'SM2'), headers: { ...json, 'X-Twilio-Signature': sig } })).status, 401)
  assert.equal((await live.records()).length, 0)
  assert.equal((await send(live.port, { method: 'POST', path, body, headers: { ...json, 'X-Twilio-Signature': sig } })).status, 200)
  const recorded = await live.records()
  assert.equal(recorded.length, 1)
  assert.equal(recorded[0]!.fields.Body, 'STOP')
})

test('twilio: a signed form is verified over exactly the parameters recorded', async (t) => {
  const live = await startLiveReceiver(t, { access: { signatures: [createTwilioVerifier(AUTH_TOKEN)] }, bindings })
  const params: Array<[string, string]> = [['From', '+33600112233'], ['Body', 'STOP'], ['Body', 'again'], ['__proto__', 'x']]
  const body = new URLSearchParams(params).toString()
  const sig = twilioSignature(AUTH_TOKEN, `http://127.0.0.1:${live.port}${PATH}`, params)
  assert.equal((await send(live.port, { method: 'POST', path: PATH, body: `${body}&extra=1`, headers: { 'X-Twilio-Signature': sig } })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: PATH, body, headers: { 'X-Twilio-Signature': sig } })).status, 200)
  const recorded = await live.records()
  assert.equal(recorded.length, 1)
  assert.deepEqual(recorded[0]!.fields.Body, ['STOP', 'again'])
})
