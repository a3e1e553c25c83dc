import { test } from 'node:test'
import { createHash } from 'node:crypto'
import { createServer } from 'node:net'
import assert from 'node:assert/strict'
import { parseCidrList, canonicalAddress } from '../../src/receiver/cidr.js'
import { clientAddress } from '../../src/receiver/client-address.js'
import { stripToken } from '../../src/receiver/access.js'
import { parseBody } from '../../src/receiver/params.js'
import { parseAccessOptions } from '../../src/receiver/access-config.js'
import { createTwilioVerifier, twilioSignature } from '../../src/providers/signatures/twilio.js'
import { parsePathBinding, PathBindings } from '../../src/providers/bindings.js'
import { PROFILES } from '../../src/providers/index.js'
import { send } from '../helpers/http.js'
import { sendNormalCallback, startLiveReceiver } from '../helpers/live-receiver.js'

const TOKEN = 'k3Jd9x0Qm2Lw7vBt5Zs1'

function hasIpv6 (): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer()
    probe.once('error', () => resolve(false))
    probe.listen(0, '::1', () => probe.close(() => resolve(true)))
  })
}

test('cidr: IPv4, IPv6, single addresses and IPv4-mapped IPv6', () => {
  const set = parseCidrList('--allow', '10.0.0.0/8, 2001:db8::/32,192.0.2.7')
  assert.equal(set.has('10.200.3.4'), true)
  assert.equal(set.has('::ffff:10.200.3.4'), true)
  assert.equal(set.has('11.0.0.1'), false)
  assert.equal(set.has('::ffff:11.0.0.1'), false)
  assert.equal(set.has('2001:db8:1::5'), true)
  assert.equal(set.has('2001:db9::5'), false)
  assert.equal(set.has('192.0.2.7'), true)
  assert.equal(set.has('192.0.2.8'), false)
  assert.equal(set.has('not an address'), false)
  assert.equal(set.has(''), false)
  assert.equal(canonicalAddress('::ffff:127.0.0.1'), '127.0.0.1')
  assert.equal(canonicalAddress('[::1]'), '::1')
  for (const bad of ['10.0.0.0/33', '2001:db8::/129', 'example.com', '10.0.0.0/', '10.0.0.0/x', '']) {
    assert.throws(() => parseCidrList('--allow', bad), { code: 'SPOOL_ERR_CONFIG' }, bad)
  }
})

test('client address: X-Forwarded-For only from trusted proxies, right-most untrusted hop', () => {
  const proxies = parseCidrList('--trust-proxy', '127.0.0.1,10.0.0.0/8')
  // Not a trusted peer: the header is ignored, whatever it says.
  assert.equal(clientAddress('198.51.100.4', '10.0.0.1', proxies), '198.51.100.4')
  assert.equal(clientAddress('198.51.100.4', '203.0.113.9', undefined), '198.51.100.4')
  // Trusted peer: the right-most untrusted hop; a spoofed left part is not believed.
  assert.equal(clientAddress('127.0.0.1', '203.0.113.9', proxies), '203.0.113.9')
  assert.equal(clientAddress('::ffff:127.0.0.1', '1.1.1.1, 203.0.113.9, 10.1.1.1', proxies), '203.0.113.9')
  assert.equal(clientAddress('127.0.0.1', ['1.1.1.1', '203.0.113.9'], proxies), '203.0.113.9')
  // All hops trusted: the left-most.
  assert.equal(clientAddress('127.0.0.1', '10.0.0.9, 10.0.0.8', proxies), '10.0.0.9')
  // Garbage where the client should be stays garbage (an allowlist refuses it).
  assert.equal(clientAddress('127.0.0.1', 'evil, 10.0.0.8', proxies), 'evil')
  assert.equal(clientAddress('127.0.0.1', '', proxies), '127.0.0.1')
})

test('token: in the first path segment or a token query parameter, stripped from what is recorded', () => {
  assert.equal(stripToken(`/${TOKEN}/delivery`, TOKEN), '/delivery')
  assert.equal(stripToken(`/${TOKEN}`, TOKEN), '/')
  assert.equal(stripToken(`/${TOKEN}?a=1`, TOKEN), '/?a=1')
  assert.equal(stripToken(`/delivery?a=1&token=${TOKEN}&b=2`, TOKEN), '/delivery?a=1&b=2')
  assert.equal(stripToken(`/delivery?%74oken=${TOKEN}`, TOKEN), '/delivery')
  assert.equal(stripToken(`/${TOKEN}/x?token=${TOKEN}`, TOKEN), '/x')
  assert.equal(stripToken('/delivery', TOKEN), undefined)
  assert.equal(stripToken(`/${TOKEN}x/delivery`, TOKEN), undefined)
  assert.equal(stripToken(`/${TOKEN.slice(0, -1)}/delivery`, TOKEN), undefined)
  assert.equal(stripToken(`/x/${TOKEN}`, TOKEN), undefined)
  assert.equal(stripToken('/delivery?token=wrong', TOKEN), undefined)
  assert.equal(stripToken(`/delivery?tokens=${TOKEN}`, TOKEN), undefined)
})

test('twilio: the published example from Twilio\'s docs verifies, and any change breaks it', () => {
  // twilio-php docs/usage/validation.rst (Twilio's "Validate Incoming Requests" example).
  const authToken = '12345'
  const url = 'https://mycompany.com/myapp.php?foo=1&bar=2'
  const params = { CallSid: 'CA1234567890ABCDE', Caller: '+14158675309', Digits: '1234', From: '+14158675309', To: '+18005551212' }
  const published = 'RSOYDt4T1cUTdK1PDd93/VVr8B8='
  assert.equal(twilioSignature(authToken, url, Object.entries(params)), published)
  const verifier = createTwilioVerifier(authToken)
  // The body in a different order: Twilio sorts by name, so it still holds.
  const body = Buffer.from(new URLSearchParams(Object.entries(params).reverse()).toString())
  const req = (headers: Record<string, string>, b = body, u = url) => ({ method: 'POST', url: u, headers, body: parseBody(b) })
  assert.equal(verifier.verify(req({ 'x-twilio-signature': published })), true)
  // Default port written out: accepted, as Twilio's libraries do.
  assert.equal(verifier.verify(req({ 'x-twilio-signature': published }, body, 'https://mycompany.com:443/myapp.php?foo=1&bar=2')), true)
  assert.equal(verifier.verify(req({})), false)
  assert.equal(verifier.verify(req({ 'x-twilio-signature': published.replace('R', 'S') })), false)
  assert.equal(verifier.verify(req({ 'x-twilio-signature': published }, Buffer.from(body.toString().replace('1234', '1235')))), false)
  assert.equal(verifier.verify(req({ 'x-twilio-signature': published }, body, 'http://mycompany.com/myapp.php?foo=1&bar=2')), false)
  assert.equal(createTwilioVerifier('12346').verify(req({ 'x-twilio-signature': published })), false)
})

test('twilio: JSON bodies are signed through bodySHA256 in the URL', () => {
  const authToken = 'json-auth-token'
  const body = Buffer.from('{"MessageSid":"SM1","From":"+33600112233"}')
  const hash = createHash('sha256').update(body).digest('hex')
  const url = `https://sms.example.com/events?bodySHA256=${hash}`
  const sig = twilioSignature(authToken, url, [])
  const verifier = createTwilioVerifier(authToken)
  const req = (b: Buffer, u = url) => ({ method: 'POST', url: u, headers: { 'x-twilio-signature': sig }, body: parseBody(b) })
  assert.equal(verifier.verify(req(body)), true)
  assert.equal(verifier.verify(req(Buffer.from(body.toString().replace('SM1', 'SM2')))), false)
  const otherHash = createHash('sha256').update('x').digest('hex')
  assert.equal(verifier.verify(req(body, `https://sms.example.com/events?bodySHA256=${otherHash}`)), false)
})

test('access options: validated once, secrets never echoed in errors', async () => {
  assert.throws(() => parseAccessOptions({ token: 'short' }), (err: Error & { code: string }) => err.code === 'SPOOL_ERR_CONFIG' && !err.message.includes('short'))
  assert.throws(() => parseAccessOptions({ basicAuth: 'nopassword-s3cr3t' }), (err: Error & { code: string }) => err.code === 'SPOOL_ERR_CONFIG' && !err.message.includes('s3cr3t'))
  assert.throws(() => parseAccessOptions({ allow: '10.0.0.0/99' }), { code: 'SPOOL_ERR_CONFIG' })
  assert.throws(() => parseAccessOptions({ publicUrl: 'ftp://x' }), { code: 'SPOOL_ERR_CONFIG' })
  // A query, a fragment or credentials, even empty ones, would end up in every signed URL.
  for (const publicUrl of ['https://x/?', 'https://x/#', 'https://x/?a=1', 'https://x/p#f', 'https://u@x/', 'https://:p@x/']) {
    assert.throws(() => parseAccessOptions({ publicUrl }), { code: 'SPOOL_ERR_CONFIG' }, publicUrl)
  }
  assert.equal(parseAccessOptions({ publicUrl: 'https://x:8443/prefix/' }).publicUrl, 'https://x:8443/prefix/')
  const opts = parseAccessOptions({ token: TOKEN, basicAuth: 'u:p', allow: '127.0.0.1', twilioAuthToken: 'x' })
  assert.equal(opts.token, TOKEN)
  assert.equal(opts.signatures?.[0]?.scheme, 'twilio')
})

test('receiver with --token: other paths 404 and nothing spooled; the token never reaches the spool', async (t) => {
  const live = await startLiveReceiver(t, { access: { token: TOKEN } })
  for (const path of ['/', '/delivery', `/${TOKEN}x/delivery`, '/delivery?token=nope', `/x/${TOKEN}`]) {
    assert.equal((await send(live.port, { method: 'POST', path, body: 'number=%2B33600112233' })).status, 404, path)
  }
  assert.equal((await send(live.port, { method: 'HEAD', path: '/' })).status, 404)
  assert.equal((await live.records()).length, 0)
  assert.equal(await sendNormalCallback(live.port, `/${TOKEN}/delivery?x=1`), 200)
  assert.equal(await sendNormalCallback(live.port, `/reply?token=${TOKEN}&y=2`), 200)
  const records = await live.records()
  assert.equal(records.length, 2)
  assert.equal(records[0]!.path, '/delivery')
  assert.deepEqual({ ...records[0]!.query }, { x: '1' })
  assert.equal(records[1]!.path, '/reply')
  assert.deepEqual({ ...records[1]!.query }, { y: '2' })
  const raw = await live.records().then((r) => JSON.stringify(r))
  assert.equal(raw.includes(TOKEN), false)
})

test('receiver with --basic-auth: 401 with WWW-Authenticate when missing or wrong', async (t) => {
  const live = await startLiveReceiver(t, { access: { basicAuth: 'octopush:correct horse' } })
  const auth = (s: string) => ({ Authorization: `Basic ${Buffer.from(s).toString('base64')}` })
  const missing = await send(live.port, { method: 'POST', path: '/', body: 'a=1' })
  assert.equal(missing.status, 401)
  assert.equal(missing.headers['www-authenticate'], 'Basic realm="callback-spool", charset="UTF-8"')
  assert.equal((await send(live.port, { method: 'POST', path: '/', body: 'a=1', headers: auth('octopush:wrong') })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: '/', body: 'a=1', headers: auth('octopus:correct horse') })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: '/', body: 'a=1', headers: { Authorization: 'Bearer x' } })).status, 401)
  assert.equal((await live.records()).length, 0)
  assert.equal((await send(live.port, { method: 'POST', path: '/', body: 'a=1', headers: auth('octopush:correct horse') })).status, 200)
  const records = await live.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.headers.authorization, undefined)
})

test('receiver with --allow: 403 outside the list; with --trust-proxy the real client is checked and recorded', async (t) => {
  const outside = await startLiveReceiver(t, { access: { allow: parseCidrList('--allow', '10.0.0.0/8,2001:db8::/32') } })
  assert.equal((await send(outside.port, { method: 'POST', path: '/', body: 'a=1' })).status, 403)
  // Without --trust-proxy the header is ignored: a forged address does not get in.
  assert.equal((await send(outside.port, { method: 'POST', path: '/', body: 'a=1', headers: { 'X-Forwarded-For': '10.1.2.3' } })).status, 403)
  assert.equal((await outside.records()).length, 0)

  const inside = await startLiveReceiver(t, { access: { allow: parseCidrList('--allow', '127.0.0.0/8') } })
  assert.equal((await send(inside.port, { method: 'POST', path: '/', body: 'a=1' })).status, 200)
  assert.equal((await inside.records())[0]!.remote_addr, '127.0.0.1')

  const proxied = await startLiveReceiver(t, {
    access: { allow: parseCidrList('--allow', '203.0.113.0/24'), trustProxy: parseCidrList('--trust-proxy', '127.0.0.1') },
  })
  // The proxy (127.0.0.1) forwards a client it saw as 198.51.100.1, which forged 203.0.113.5 on the left.
  assert.equal((await send(proxied.port, { method: 'POST', path: '/', body: 'a=1', headers: { 'X-Forwarded-For': '203.0.113.5, 198.51.100.1' } })).status, 403)
  assert.equal((await send(proxied.port, { method: 'POST', path: '/', body: 'a=1' })).status, 403)
  assert.equal((await proxied.records()).length, 0)
  assert.equal((await send(proxied.port, { method: 'POST', path: '/', body: 'a=2', headers: { 'X-Forwarded-For': '198.51.100.1, 203.0.113.5' } })).status, 200)
  const records = await proxied.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.remote_addr, '203.0.113.5')
})

test('on a dual-stack socket: an IPv4 client (::ffff:127.0.0.1) matches IPv4 CIDRs; an IPv6 client IPv6 ones', async (t) => {
  if (!await hasIpv6()) {
    t.skip('this machine has no IPv6 loopback; the CIDR unit test above still covers mapped addresses')
    return
  }
  const live = await startLiveReceiver(t, { host: '::', access: { allow: parseCidrList('--allow', '127.0.0.0/8') } })
  assert.equal((await send(live.port, { method: 'POST', path: '/', body: 'a=1', headers: {}, host: '127.0.0.1' })).status, 200)
  assert.equal((await send(live.port, { method: 'POST', path: '/', body: 'a=1', headers: {}, host: '::1' })).status, 403)
  const records = await live.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.remote_addr, '127.0.0.1')

  const v6 = await startLiveReceiver(t, { host: '::', access: { allow: parseCidrList('--allow', '::1/128') } })
  assert.equal((await send(v6.port, { method: 'POST', path: '/', body: 'a=1', headers: {}, host: '127.0.0.1' })).status, 403)
  assert.equal((await send(v6.port, { method: 'POST', path: '/', body: 'a=1', headers: {}, host: '::1' })).status, 200)
  assert.equal((await v6.records())[0]!.remote_addr, '::1')
})

test('receiver with --twilio-auth-token: signed requests pass, unsigned or wrong ones 401', async (t) => {
  const authToken = 'f00dfeedf00dfeedf00dfeedf00dfeed'
  const bindings = new PathBindings([parsePathBinding('/twilio=twilio', PROFILES)])
  const live = await startLiveReceiver(t, { access: { signatures: [createTwilioVerifier(authToken)] }, bindings })
  const params = { MessageSid: 'SM1', From: '+33600112233', To: '+33700000000', Body: 'STOP' }
  const body = new URLSearchParams(params).toString()
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' }
  const sig = twilioSignature(authToken, `http://127.0.0.1:${live.port}/twilio?a=1`, Object.entries(params))
  assert.equal((await send(live.port, { method: 'POST', path: '/twilio?a=1', body, headers: form })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: '/twilio?a=1', body, headers: { ...form, 'X-Twilio-Signature': 'AAAA' + sig.slice(4) } })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: '/twilio?a=2', body, headers: { ...form, 'X-Twilio-Signature': sig } })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: '/twilio?a=1', body: body.replace('STOP', 'STAR'), headers: { ...form, 'X-Twilio-Signature': sig } })).status, 401)
  assert.equal((await live.records()).length, 0)
  assert.equal((await send(live.port, { method: 'POST', path: '/twilio?a=1', body, headers: { ...form, 'X-Twilio-Signature': sig } })).status, 200)
  assert.equal((await live.records()).length, 1)

  // Behind a TLS proxy with a token in the path: the URL signed is the public one, token included.
  const behind = await startLiveReceiver(t, {
    access: { token: TOKEN, publicUrl: 'https://sms.example.com', signatures: [createTwilioVerifier(authToken)] },
    bindings,
  })
  const publicSig = twilioSignature(authToken, `https://sms.example.com/${TOKEN}/twilio`, Object.entries(params))
  assert.equal((await send(behind.port, { method: 'POST', path: `/${TOKEN}/twilio`, body, headers: { ...form, 'X-Twilio-Signature': sig } })).status, 401)
  assert.equal((await send(behind.port, { method: 'POST', path: `/${TOKEN}/twilio`, body, headers: { ...form, 'X-Twilio-Signature': publicSig } })).status, 200)
  const recorded = await behind.records()
  assert.equal(recorded.length, 1)
  assert.equal(recorded[0]!.path, '/twilio')
  assert.equal(recorded[0]!.headers['x-twilio-signature'], publicSig)
})

test('all combined: allowlist, token, basic auth and signature each have to hold', async (t) => {
  const authToken = 'combined-auth-token'
  const live = await startLiveReceiver(t, {
    access: {
      token: TOKEN,
      basicAuth: 'u:p',
      allow: parseCidrList('--allow', '127.0.0.1'),
      signatures: [createTwilioVerifier(authToken)],
    },
    bindings: new PathBindings([parsePathBinding('/in=twilio', PROFILES)]),
  })
  const body = 'From=%2B33600112233&Body=hi'
  const url = `/${TOKEN}/in`
  const sig = twilioSignature(authToken, `http://127.0.0.1:${live.port}${url}`, [['From', '+33600112233'], ['Body', 'hi']])
  const good = { Authorization: `Basic ${Buffer.from('u:p').toString('base64')}`, 'X-Twilio-Signature': sig }
  assert.equal((await send(live.port, { method: 'POST', path: '/in', body, headers: good })).status, 404)
  assert.equal((await send(live.port, { method: 'POST', path: url, body, headers: { 'X-Twilio-Signature': sig } })).status, 401)
  assert.equal((await send(live.port, { method: 'POST', path: url, body, headers: { Authorization: good.Authorization } })).status, 401)
  assert.equal((await live.records()).length, 0)
  assert.equal((await send(live.port, { method: 'POST', path: url, body, headers: good })).status, 200)
  assert.equal((await live.records()).length, 1)
})
