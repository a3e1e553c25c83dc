/**
 * Which provider's signature a request must carry, and which answer it gets: the provider its
 * path is bound to (`--provider-path`) and the one its shape names; and how the secrets are
 * configured (flags, CALLBACK_SPOOL_* variables, the config file), never shown.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createProgram } from '../../src/cli.js'
import { parsePathBinding, parsePathBindings, PathBindings } from '../../src/providers/bindings.js'
import { PROFILES } from '../../src/providers/index.js'
import { createTwilioVerifier, twilioSignature } from '../../src/providers/signatures/twilio.js'
import { parseAccessOptions } from '../../src/receiver/access-config.js'
import { killHard, startCliReceiver } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { startLiveReceiver, type LiveReceiver } from '../helpers/live-receiver.js'
import { tempDir } from '../helpers/tmp.js'

const FORM = { 'Content-Type': 'application/x-www-form-urlencoded' }
const JSON_TYPE = { 'Content-Type': 'application/json' }
const TWILIO_TOKEN = 'f00dfeedf00dfeedf00dfeedf00dfeed'
const octopushStop = JSON.stringify({ message_id: 'sms_1', number: '+33600112233', text: 'STOP', stop_date: '2026-12-01 10:00:00' })
const twilioReply = { MessageSid: 'SM1', AccountSid: 'AC1', From: '+33600112233', To: '+33700000000', Body: 'STOP' }

function bindings (...specs: string[]): PathBindings {
  return new PathBindings(specs.map((s) => parsePathBinding(s, PROFILES)))
}

async function status (live: LiveReceiver, path: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return (await send(live.port, { path, body, headers })).status
}

test('with a provider secret set, a request is spooled only when the providers of its path and of its shape vouch for it', async (t) => {
  const live = await startLiveReceiver(t, {
    access: { signatures: [createTwilioVerifier(TWILIO_TOKEN)] },
    bindings: bindings('/octopush/=octopush', '/twilio/=twilio'),
  })
  const form = new URLSearchParams(twilioReply).toString()
  const signed = (path: string): Record<string, string> =>
    ({ ...FORM, 'X-Twilio-Signature': twilioSignature(TWILIO_TOKEN, `http://127.0.0.1:${live.port}${path}`, Object.entries(twilioReply)) })

  // An Octopush STOP (no signature exists for it) on a path bound to no provider: refused, or
  // anybody could unsubscribe a customer by dressing a request as an unsigned provider's.
  assert.equal(await status(live, '/', octopushStop, JSON_TYPE), 401)
  assert.equal(await status(live, '/sms', 'a=1'), 401, 'a request no profile recognises')
  // A path bound to Twilio: Twilio's signature is required whatever the body's shape.
  assert.equal(await status(live, '/twilio/in', octopushStop, JSON_TYPE), 401)
  // A Twilio-shaped request needs Twilio's signature on any path, even one bound to Octopush.
  assert.equal(await status(live, '/octopush/in', form, FORM), 401)
  assert.equal(await status(live, '/other', form, FORM), 401)
  assert.equal((await live.records()).length, 0)

  // The operator bound /octopush/ to Octopush, which signs nothing: its requests get in.
  const octo = await send(live.port, { path: '/octopush/stop', body: octopushStop, headers: JSON_TYPE })
  assert.equal(octo.status, 200)
  assert.equal(octo.body.length, 0, 'Octopush: zero bytes')
  assert.equal(octo.headers['content-type'], undefined)
  // Signed Twilio requests, bound or recognised by their shape.
  assert.equal(await status(live, '/twilio/in', form, signed('/twilio/in')), 200)
  const shaped = await send(live.port, { path: '/other', body: form, headers: signed('/other') })
  assert.equal(shaped.status, 200)
  assert.equal(shaped.headers['content-type'], 'text/xml')
  assert.equal(shaped.body.toString(), '<?xml version="1.0" encoding="UTF-8"?><Response></Response>')
  assert.deepEqual((await live.records()).map((r) => r.path), ['/octopush/stop', '/twilio/in', '/other'])
})

test('without any secret, everything is spooled and answered as its provider expects: the bound one first, else by its shape', async (t) => {
  const live = await startLiveReceiver(t, { bindings: bindings('/plivo/=plivo') })
  const twilio = await send(live.port, { path: '/in', body: new URLSearchParams(twilioReply).toString(), headers: FORM })
  assert.equal(twilio.status, 200)
  assert.equal(twilio.headers['content-type'], 'text/xml')
  assert.equal(Number(twilio.headers['content-length']), twilio.body.length)
  // Twilio-shaped, but on a path bound to Plivo: Plivo's answer.
  const bound = await send(live.port, { path: '/plivo/in', body: new URLSearchParams(twilioReply).toString(), headers: FORM })
  assert.equal(bound.headers['content-type'], 'application/xml')
  assert.match(bound.body.toString(), /<Response><\/Response>$/)
  const octopush = await send(live.port, { path: '/in', body: octopushStop, headers: JSON_TYPE })
  assert.equal(octopush.status, 200)
  assert.equal(octopush.body.length, 0)
  assert.equal((await live.records()).length, 3)
})

test('access options: each provider\'s secret from its option; a bad key or method names the option, never the value', () => {
  const options = parseAccessOptions({
    twilioAuthToken: 't',
    vonageSignatureSecret: 'v',
    vonageSignatureMethod: 'sha256',
    plivoAuthToken: 'p',
    sinchWebhookSecret: 's',
    telnyxPublicKey: Buffer.alloc(32, 7).toString('base64'),
    messagebirdSigningKey: 'm',
  })
  assert.deepEqual(options.signatures?.map((s) => s.scheme).sort(),
    ['messagebird', 'plivo', 'sinch', 'telnyx', 'twilio', 'vonage', 'vonage-messages'])
  assert.throws(() => parseAccessOptions({ telnyxPublicKey: 'bm90LWEta2V5LXMzY3JldA==' }),
    (err: Error & { code?: string }) => err.code === 'SPOOL_ERR_CONFIG' && err.message.includes('--telnyx-public-key') && !err.message.includes('bm90'))
  assert.throws(() => parseAccessOptions({ vonageSignatureSecret: 'v', vonageSignatureMethod: 'sha384' }),
    (err: Error & { code?: string }) => err.code === 'SPOOL_ERR_CONFIG' && err.message.includes('--vonage-signature-method'))
  assert.throws(() => parseAccessOptions({ sinchWebhookSecret: '' }), { code: 'SPOOL_ERR_CONFIG' })
})

test('--provider-path values: repeated flags, or lines of one variable or config value', () => {
  assert.equal(parsePathBindings(undefined, PROFILES), undefined)
  assert.deepEqual(parsePathBindings(['/a/=twilio', '/b/=plivo\n/c/=sinch\n'], PROFILES)!.map((b) => `${b.prefix}=${b.profile.name}`), ['/a/=twilio', '/b/=plivo', '/c/=sinch'])
  assert.deepEqual(parsePathBindings('/a/=telnyx\n/b/=octopush', PROFILES)!.map((b) => b.profile.name), ['telnyx', 'octopush'])
  assert.throws(() => parsePathBindings('/a/=nosuch', PROFILES), { code: 'SPOOL_ERR_CONFIG' })
})

test('`config` masks every provider secret, from flags or the environment', async (t) => {
  const secrets: Record<string, string> = {
    CALLBACK_SPOOL_TWILIO_AUTH_TOKEN: 'tw-s3cret-1',
    CALLBACK_SPOOL_VONAGE_SIGNATURE_SECRET: 'vo-s3cret-2',
    CALLBACK_SPOOL_PLIVO_AUTH_TOKEN: 'pl-s3cret-3',
    CALLBACK_SPOOL_SINCH_WEBHOOK_SECRET: 'si-s3cret-4',
    CALLBACK_SPOOL_MESSAGEBIRD_SIGNING_KEY: 'mb-s3cret-5',
  }
  withEnv(t, secrets)
  let out = ''
  const program = createProgram({ stdout: (text) => { out += text } }).exitOverride()
  await program.parseAsync(['config', '--json'], { from: 'user' })
  const receive = (JSON.parse(out) as Record<string, Record<string, unknown>>).receive!
  for (const key of ['twilioAuthToken', 'vonageSignatureSecret', 'plivoAuthToken', 'sinchWebhookSecret', 'messagebirdSigningKey']) {
    assert.equal(receive[key], '****', key)
  }
  assert.equal(receive.vonageSignatureMethod, 'md5hash')
  for (const value of Object.values(secrets)) assert.doesNotMatch(out, new RegExp(value))
})

test('receive (the real CLI): a secret from the environment and --provider-path; the secret never logged', async (t) => {
  const dir = await tempDir(t)
  const secret = 'SMSWebhooksSecret'
  const cli = await startCliReceiver(dir, ['--provider-path', '/octopush/=octopush', '--provider-path', '/plivo/=plivo'], { CALLBACK_SPOOL_SINCH_WEBHOOK_SECRET: secret })
  t.after(() => killHard(cli))
  // sinch/sinch-sdk-node packages/sms/tests/rest/v1/callbacks/callbacks-webhook.test.ts
  const body = '{"at":"2025-01-13T09:22:40.914Z","batch_id":"01JHFFHQ0P99JPPNQPJDV7JTBP","client_reference":"a client reference","code":0,"operator_status_at":"2025-01-13T09:22:00Z","recipient":"33662162466","status":"Delivered","type":"recipient_delivery_report_sms"}'
  const headers = {
    ...JSON_TYPE,
    'x-sinch-webhook-signature': 'ZoHei66PPN/kZjw7hFVfGhJOnml3iGNCMWoyQVcE5o0=',
    'x-sinch-webhook-signature-nonce': '01JHFFHWYY7HSS4FWTMDTQEK8V',
    'x-sinch-webhook-signature-timestamp': '1736760161',
  }
  assert.equal((await send(cli.port, { path: '/sinch', body, headers })).status, 200)
  assert.equal((await send(cli.port, { path: '/sinch', body: body.replace('Delivered', 'Delivere_'), headers })).status, 401)
  assert.equal((await send(cli.port, { path: '/', body: octopushStop, headers: JSON_TYPE })).status, 401)
  assert.equal((await send(cli.port, { path: '/octopush/stop', body: octopushStop, headers: JSON_TYPE })).status, 200)
  assert.doesNotMatch(cli.stdout() + cli.stderr(), new RegExp(secret))
  assert.match(cli.stdout(), /"signatures":\["sinch"\]/)
  // Plivo signs its requests but has no token here: its bound path admits them unverified, and the log says so.
  assert.match(cli.stdout(), /plivo signs its requests, but --plivo-auth-token is not set: the requests to \/plivo\/ are not verified/)
  assert.doesNotMatch(cli.stdout(), /octopush signs/)
})

function withEnv (t: TestContext, values: Record<string, string>): void {
  const saved = new Map<string, string | undefined>()
  for (const [name, value] of Object.entries(values)) {
    saved.set(name, process.env[name])
    process.env[name] = value
  }
  t.after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
}
