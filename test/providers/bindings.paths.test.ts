import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { processOptionsFrom } from '../../src/processor/options.js'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { parsePathBinding, PathBindings } from '../../src/providers/bindings.js'
import { PROFILES } from '../../src/providers/index.js'
import { readNdjson } from '../helpers/ndjson.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'

const paris = new ZonedTimeReader('Europe/Paris')
const bindings = new PathBindings(['/twilio/=twilio', '/sms/=octopush', '/sms/vonage/=vonage'].map((s) => parsePathBinding(s, PROFILES)))

/** A Twilio status callback without AccountSid: its shape alone does not tell Twilio. */
const bareTwilio = { MessageSid: 'SM1', MessageStatus: 'delivered', To: '+15558675309', From: '+15017250604' }

test('a path binding wins over the shape; the longest prefix wins; other paths go by shape', () => {
  const at = (path: string, fields: Record<string, unknown>): ReturnType<typeof normaliseCallback> =>
    normaliseCallback({ ...recordWithFields(fields), path }, paris, { bindings })
  const bound = at('/twilio/status', bareTwilio)
  assert.equal(bound.provider, 'twilio')
  assert.equal(bound.kind, 'delivery')
  assert.equal(bound.status, 'delivered')
  assert.equal(bound.number, '+15558675309')
  // Unbound, the same request is recognised by no profile.
  assert.equal(normaliseCallback(recordWithFields(bareTwilio), paris).provider, null)
  // Bound to Octopush, a Twilio-shaped request is read as Octopush's (here: unknown), not Twilio's.
  const twilioShaped = { ...bareTwilio, AccountSid: 'AC1' }
  assert.equal(at('/sms/x', twilioShaped).provider, 'octopush')
  assert.equal(at('/sms/x', twilioShaped).kind, 'unknown')
  assert.equal(at('/sms/vonage/dlr', { msisdn: '447547232824', messageId: 'X', status: 'delivered' }).provider, 'vonage')
  assert.equal(at('/other', twilioShaped).provider, 'twilio', 'no binding: the shape decides')
  assert.equal(at('/twilio', twilioShaped).provider, 'twilio')
})

test('--provider-path: PREFIX=PROVIDER, repeatable; a bad one is a configuration error', () => {
  const base = { dataDir: '/tmp/x', providerTz: 'Europe/Paris', maxAttempts: '5', tries: '3', retryDelay: '500ms', handlerTimeout: '30s', batchSize: '10000', retain: '7d', pollInterval: '1s', retryPause: '1m' }
  const parsed = processOptionsFrom({ ...base, providerPath: ['/twilio/=twilio', '/p/=plivo'] })
  assert.deepEqual(parsed.providerPaths?.map((b) => [b.prefix, b.profile.name]), [['/twilio/', 'twilio'], ['/p/', 'plivo']])
  for (const bad of ['twilio/=twilio', '/x/=nosuch', '/x/']) {
    assert.throws(() => processOptionsFrom({ ...base, providerPath: [bad] }), (err: Error & { code?: string }) => err.code === 'SPOOL_ERR_CONFIG' && err.message.includes('--provider-path'), bad)
  }
})

test('process: a bound path\'s requests are normalised by the bound profile', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([{ ...recordWithFields(bareTwilio), path: '/twilio/status' }, recordWithFields(bareTwilio)]))
  const options = processorOptions(dir, { providerPaths: [parsePathBinding('/twilio/=twilio', PROFILES)] })
  assert.equal(await runProcessCommand(options, silentLogger(), () => {}), 0)
  const delivered = await readNdjson(join(dir, 'out', 'delivery.ndjson'))
  assert.deepEqual(delivered.map((r) => [r.provider, r.status, r.message_id]), [['twilio', 'delivered', 'SM1']])
  const unknown = await readNdjson(join(dir, 'out', 'unknown.ndjson'))
  assert.deepEqual(unknown.map((r) => r.provider), [null])
})
