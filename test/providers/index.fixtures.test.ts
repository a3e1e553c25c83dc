/**
 * Each provider's callbacks, from its docs or SDK (test/fixtures/providers/README.md names the
 * source of each), through the profile that recognises them: kind, provider, numbers, status,
 * message id, text and event time.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { normaliseCallback, normaliseEvents } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { PROFILES } from '../../src/providers/index.js'
import { parseProviderZones, ProviderTimes } from '../../src/providers/times.js'
import { buildRecord } from '../../src/receiver/build-record.js'
import { encodeRecord, type SpoolRecord } from '../../src/record.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { FIXTURES_DIR, loadFixture } from '../helpers/fixtures.js'
import { readNdjson } from '../helpers/ndjson.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { recordWithFields } from '../helpers/records.js'

const DIR = join(FIXTURES_DIR, 'providers')
const paris = new ZonedTimeReader('Europe/Paris')

function providerRecord (name: string): SpoolRecord {
  const req = loadFixture(name, DIR)
  return buildRecord({ method: req.method, url: req.target, remoteAddr: '127.0.0.1', headers: req.headers, body: req.body })
}

type Expected = Record<string, unknown>
const EXPECTED: Record<string, Expected> = {
  // RawDlrDoneDate is in the carrier's unknown zone: kept as sent, no event_time.
  'twilio-status-undelivered.http': { kind: 'delivery', provider: 'twilio', number: '+15558675309', our_number: '+15017250604', status: 'failed', provider_status: 'undelivered', error_code: '30003', message_id: 'SM0123456789abcdef0123456789abcdef', event_date: '2301141529', event_time: null },
  'twilio-optout.http': { kind: 'optout', provider: 'twilio', number: '+14017122661', our_number: '+15558675310', message_id: 'SM89abcdef0123456789abcdef01234567', text: 'STOP', event_time: null },
  // Advanced Opt-Out's START.
  'twilio-optin.http': { kind: 'optin', provider: 'twilio', number: '+14017122661', our_number: '+15558675310', message_id: 'SM0fedcba9876543210fedcba987654321', text: 'START', event_time: null },
  'twilio-reply.http': { kind: 'reply', provider: 'twilio', number: '+14017122661', our_number: '+15558675310', message_id: 'SMfedcba9876543210fedcba9876543210', text: 'Running late, see you at 9', event_time: null },
  // msisdn is the recipient of a receipt; message-timestamp is UTC (scts, 13:10, is the carrier's local time).
  'vonage-dlr-json.http': { kind: 'delivery', provider: 'vonage', number: '+447547232824', our_number: 'Nexmo CLI', status: 'delivered', provider_status: 'delivered', error_code: null, message_id: '0B00000127FDBC63', event_time: '2018-10-25T12:10:29.000Z' },
  // msisdn is the sender of an inbound message.
  'vonage-inbound-get.http': { kind: 'reply', provider: 'vonage', number: '+15862151111', our_number: '+12812581111', message_id: '0B0000004B65F62F', text: 'Msg', event_time: '2017-05-01T21:52:49.000Z' },
  // A STOP arrives as an inbound message (keyword=STOP): an opt-out by its whole text.
  'vonage-inbound-stop.http': { kind: 'optout', provider: 'vonage', number: '+15862151111', our_number: '+12812581111', message_id: '0B0000004B65F630', text: 'Stop', event_time: '2017-05-01T21:53:10.000Z' },
  // An inbound message's `from` is the subscriber.
  'vonage-messages-inbound.http': { kind: 'reply', provider: 'vonage-messages', number: '+447700900000', our_number: '+447700900001', message_id: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ac', text: 'Hello back', event_time: '2023-05-01T14:05:00.000Z' },
  'vonage-messages-status.http': { kind: 'delivery', provider: 'vonage-messages', number: '+447700900000', our_number: '+447700900001', status: 'sent', provider_status: 'submitted', error_code: null, message_id: 'aaaaaaaa-bbbb-cccc-dddd-0123456789ab', event_time: '2023-05-01T14:00:00.000Z' },
  'plivo-status.http': { kind: 'delivery', provider: 'plivo', number: '+14155551234', our_number: '+14155550000', status: 'delivered', provider_status: 'delivered', error_code: null, message_id: '0936ec98-7c4c-11e4-9bd8-22000afa12b9', event_time: '2023-01-05T10:00:03.654Z' },
  'plivo-optout.http': { kind: 'optout', provider: 'plivo', number: '+14155551234', our_number: '+14155550000', message_id: '2a1b3c4d-7c4c-11e4-9bd8-22000afa12b9', text: 'STOP', event_time: null },
  // A blank MessageIntent: an ordinary reply.
  'plivo-inbound.http': { kind: 'reply', provider: 'plivo', number: '+14155551234', our_number: '+14155550000', message_id: '3b2c4d5e-7c4c-11e4-9bd8-22000afa12b9', text: 'See you at 9', event_time: null },
  'plivo-optin.http': { kind: 'optin', provider: 'plivo', number: '+14155551234', our_number: '+14155550000', message_id: '4c3d5e6f-7c4c-11e4-9bd8-22000afa12b9', text: 'START', event_time: null },
  'telnyx-sent.http': { kind: 'delivery', provider: 'telnyx', number: '+18665550001', our_number: '+18445550001', status: 'sent', provider_status: 'sent', error_code: null, message_id: '40317159-a2a9-4d51-8b6a-2a6c5b1c7d0e', event_time: '2019-12-09T21:32:13.552Z' },
  'telnyx-received.http': { kind: 'reply', provider: 'telnyx', number: '+18665550001', our_number: '+18445550001', message_id: '7ee4241c-f127-47e5-9c34-3aac291f8058', text: 'Hello, World!', event_time: '2019-01-23T18:10:02.574Z' },
  'telnyx-finalized.http': { kind: 'delivery', provider: 'telnyx', number: '+18665550001', our_number: '+18445550001', status: 'delivered', provider_status: 'delivered', error_code: null, message_id: '40317159-a2a9-4d51-8b6a-2a6c5b1c7d0e', event_time: '2019-12-09T21:32:14.148Z' },
  'sinch-recipient-report.http': { kind: 'delivery', provider: 'sinch', number: '+33662162466', our_number: null, status: 'delivered', provider_status: 'Delivered', error_code: null, message_id: '01JHFFHQ0P99JPPNQPJDV7JTBP', event_time: '2025-01-13T09:22:40.914Z' },
  'sinch-mo-text.http': { kind: 'reply', provider: 'sinch', number: '+16051234567', our_number: '+13185551234', message_id: '01XXXXX21XXXXX119Z8P1XXXXX', text: 'This is the SMS body', event_time: '2024-01-10T08:49:58.429Z' },
  // A batch report gives no time per recipient.
  'sinch-batch-report.http': { kind: 'delivery', provider: 'sinch', number: '+1234567890', our_number: null, status: 'delivered', provider_status: 'Delivered', error_code: null, message_id: 'batch_id_value', event_time: null },
  // The offset -0300 has no colon.
  'infobip-report.http': { kind: 'delivery', provider: 'infobip', number: '+41793026731', our_number: null, status: 'delivered', provider_status: 'DELIVERED', error_code: null, message_id: 'fb469d73-d362-463f-b30f-1e959b53badc', event_time: '2019-04-09T19:01:56.494Z' },
  'infobip-inbound.http': { kind: 'reply', provider: 'infobip', number: '+385916242493', our_number: '+385921004026', message_id: '817790313235066447', text: 'QUIZ Correct answer is Paris', event_time: '2019-11-09T16:00:00.000Z' },
  'messagebird-status-get.http': { kind: 'delivery', provider: 'messagebird', number: '+31612345678', our_number: null, status: 'delivered', provider_status: 'delivered', error_code: null, message_id: 'e8077d803532c0b5937c639b60216938', event_time: '2016-05-03T08:58:10.000Z' },
  // No date in the docs' sample: no event_time (never the time of receipt instead).
  'brevo-sent.http': { kind: 'delivery', provider: 'brevo', number: '+918076001713', our_number: null, status: 'sent', provider_status: 'sent', error_code: null, message_id: '123', event_time: null },
  // `date` is CET in winter (UTC+1), CEST in summer (UTC+2).
  'brevo-delivered.http': { kind: 'delivery', provider: 'brevo', number: '+918076001713', our_number: null, status: 'delivered', provider_status: 'delivered', error_code: null, message_id: '124', event_time: '2024-01-15T09:30:00.000Z' },
  'brevo-unsubscribe.http': { kind: 'optout', provider: 'brevo', number: '+918076001713', our_number: null, message_id: '124', text: null, event_time: '2024-07-15T08:31:00.000Z' },
  // A JSON array of one event; a status event's subscriber is `to`, its sender `message.from`.
  'bandwidth-delivered.http': { kind: 'delivery', provider: 'bandwidth', number: '+15554443333', our_number: '+15552221111', status: 'delivered', provider_status: 'message-delivered', error_code: null, message_id: '1589228074636lm4k2je7j7jklbn2', event_time: '2024-05-01T10:00:01.000Z' },
  'bandwidth-failed.http': { kind: 'delivery', provider: 'bandwidth', number: '+15554443334', our_number: '+15552221111', status: 'failed', provider_status: 'message-failed', error_code: '4405', message_id: '1589228074636lm4k2je7j7jklbn3', event_time: '2024-05-01T10:00:02.000Z' },
  'bandwidth-received.http': { kind: 'reply', provider: 'bandwidth', number: '+15554443333', our_number: '+15552221111', message_id: '14762070468292kw2fuqty55yp2b2', text: 'Thanks!', event_time: '2024-05-01T10:05:00.000Z' },
  // Epoch milliseconds.
  'clickatell-mo-text.http': { kind: 'reply', provider: 'clickatell', number: '+2799900001', our_number: '+2799900002', message_id: '3a89680503414383af44dcd0e4e5f184', text: 'Text Content of the reply message', event_time: '2017-09-28T14:08:18.000Z' },
  'clickatell-status.http': { kind: 'delivery', provider: 'clickatell', number: '+2799900001', our_number: '+2799900002', status: 'delivered', provider_status: 'DEVICE_ACK', error_code: null, message_id: 'd33eef0838a121f71069a4cc8d55c19e', event_time: '2017-09-28T14:10:00.000Z' },
}

test('every provider fixture: kind, provider, numbers, status, message id, text and event time', async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.http')).sort()
  assert.deepEqual(files, Object.keys(EXPECTED).sort(), 'a new fixture needs an expectation here')
  for (const file of files) {
    const record = providerRecord(file)
    const n = normaliseCallback(record, paris) as unknown as Record<string, unknown>
    assert.equal(n.id, record.id, file)
    for (const [key, value] of Object.entries(EXPECTED[file]!)) assert.deepEqual(n[key], value, `${file}: ${key}`)
    if (n.kind !== 'delivery') assert.equal('status' in n, false, `${file}: status only for receipts`)
    else assert.equal('text' in n, false, `${file}: no text in a receipt`)
  }
})

test('each fixture is recognised by exactly one profile', async () => {
  const files = (await readdir(DIR)).filter((f) => f.endsWith('.http'))
  for (const file of files) {
    const record = providerRecord(file)
    const names = PROFILES.filter((p) => p.recognises(record)).map((p) => p.name)
    assert.deepEqual(names, [file.startsWith('vonage-messages') ? 'vonage-messages' : file.split('-')[0]], file)
  }
  // And the Octopush fixtures by Octopush only (or none: its unknown test event).
  for (const file of (await readdir(FIXTURES_DIR)).filter((f) => f.endsWith('.http'))) {
    const req = loadFixture(file)
    const record = buildRecord({ method: req.method, url: req.target, remoteAddr: '127.0.0.1', headers: req.headers, body: req.body })
    const names = PROFILES.filter((p) => p.recognises(record)).map((p) => p.name)
    assert.deepEqual(names, file.startsWith('unknown') ? [] : ['octopush'], file)
  }
})

test('natural keys: the same event re-sent gives the same key, another status another key', () => {
  for (const file of Object.keys(EXPECTED)) {
    const record = providerRecord(file)
    const profile = PROFILES.find((p) => p.recognises(record))!
    const [event] = profile.normalise(record, { time: paris })
    const key = profile.dedupeKey(event!, record.fields)
    assert.equal(typeof key, 'string', file)
    const again = providerRecord(file)
    assert.equal(profile.dedupeKey(profile.normalise(again, { time: paris })[0]!, again.fields), key, `${file}: re-sent`)
  }
  const twilioRecord = providerRecord('twilio-status-undelivered.http')
  const delivered = { ...twilioRecord, fields: { ...twilioRecord.fields, MessageStatus: 'delivered' } }
  const twilio = PROFILES.find((p) => p.name === 'twilio')!
  assert.notEqual(
    twilio.dedupeKey(twilio.normalise(delivered, { time: paris })[0]!, delivered.fields),
    twilio.dedupeKey(twilio.normalise(twilioRecord, { time: paris })[0]!, twilioRecord.fields))
})

test('--provider-tz: Plivo read in the zone given, Twilio\'s RawDlrDoneDate once a zone is given, Octopush\'s default kept; zoned providers refused', () => {
  const plivo = providerRecord('plivo-status.http')
  const twilio = providerRecord('twilio-status-undelivered.http')
  const octopush = recordWithFields({ message_id: 'sms_1', number: '+33600112233', status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45' })
  const times = new ProviderTimes(parseProviderZones(['plivo=America/New_York', 'twilio=UTC'], PROFILES, 'Europe/Paris'))
  const read = (record: SpoolRecord): ReturnType<typeof normaliseCallback> => normaliseCallback(record, paris, { times })
  assert.equal(read(plivo).event_time, '2023-01-05T15:00:03.654Z', 'EST is UTC-5')
  assert.equal(read(twilio).event_time, '2023-01-14T15:29:00.000Z', 'YYMMDDhhmm read as UTC')
  assert.equal(read(octopush).event_time, '2020-11-04T10:11:45.000Z')
  // Without the option: Plivo in UTC, Twilio's date unread.
  assert.equal(normaliseCallback(plivo, paris).event_time, '2023-01-05T10:00:03.654Z')
  assert.equal(normaliseCallback(twilio, paris).event_time, null)
  assert.equal(parseProviderZones(['UTC'], PROFILES, 'Europe/Paris').default, 'UTC')
  assert.throws(() => parseProviderZones(['telnyx=UTC'], PROFILES, 'Europe/Paris'), { code: 'SPOOL_ERR_CONFIG', message: /PROVIDER one of octopush, twilio, vonage, plivo, brevo/ })
  assert.throws(() => parseProviderZones(['plivo=Mars/Olympus'], PROFILES, 'Europe/Paris'), { code: 'SPOOL_ERR_CONFIG' })
})

test('Bandwidth: an array of several events is a batch, one record per event, each with its own key', () => {
  const delivered = JSON.parse(loadFixture('bandwidth-delivered.http', DIR).body.toString('utf8')) as unknown[]
  const received = JSON.parse(loadFixture('bandwidth-received.http', DIR).body.toString('utf8')) as unknown[]
  const record = buildRecord({ method: 'POST', url: '/bandwidth', remoteAddr: '127.0.0.1', headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify([...delivered, ...received])) })
  const events = normaliseEvents(record, paris)
  assert.deepEqual(events.map((e) => [e.kind, e.provider, e.record_id, e.message_id]), [
    ['delivery', 'bandwidth', record.id, '1589228074636lm4k2je7j7jklbn2'],
    ['reply', 'bandwidth', record.id, '14762070468292kw2fuqty55yp2b2'],
  ])
  assert.deepEqual(events.map((e) => e.dedupe_key), ['bandwidth:1589228074636lm4k2je7j7jklbn2|message-delivered|+15554443333', 'bandwidth:14762070468292kw2fuqty55yp2b2|reply|+15554443333'])
})

test('Brevo: its CET/CEST date, and replied / unsubscribe / subscribe as reply, optout, optin', () => {
  const at = (msgStatus: string): ReturnType<typeof normaliseCallback> =>
    normaliseCallback(recordWithFields({ id: 26570, to: '918076001713', messageId: 123, msg_status: msgStatus, date: '2024-07-01 12:00:00', text: 'Bonjour' }), paris)
  assert.equal(at('delivered').event_time, '2024-07-01T10:00:00.000Z', 'CEST is UTC+2')
  assert.deepEqual([at('replied').kind, at('unsubscribe').kind, at('subscribe').kind], ['reply', 'optout', 'optin'])
  assert.equal(at('replied').text, 'Bonjour')
  assert.equal(at('hard_bounce').status, 'failed')
})

function infobipBatch (n: number): SpoolRecord {
  const results = Array.from({ length: n }, (_, i) => ({
    messageId: `msg-${i}`,
    to: `4179302${String(i).padStart(4, '0')}`,
    status: { groupName: i % 2 === 0 ? 'DELIVERED' : 'UNDELIVERABLE', name: 'X' },
    error: { id: i % 2 === 0 ? 0 : 9 },
    doneAt: '2019-04-09T16:01:56.494+0000',
  }))
  return recordWithFields({ results })
}

test('process: a request of 100 Infobip results hands over 100 records; replayed, the same 100 ids', async (t) => {
  const line = encodeRecord(infobipBatch(100)) + encodeRecord(providerRecord('twilio-reply.http'))
  const ids: string[][] = []
  for (let run = 0; run < 2; run++) {
    const dir = await tempDir(t)
    await writeSegment(dir, 1, line)
    // Replies have no route: the batch's events go on, the reply is skipped.
    const options = processorOptions(dir, { routes: [{ kind: 'delivery', target: `file:${join(dir, 'd.ndjson')}` }] })
    assert.equal(await runProcessCommand(options, silentLogger(), () => {}), 0)
    const out = await readNdjson(join(dir, 'd.ndjson'))
    assert.equal(out.length, 100)
    assert.deepEqual(out.map((r) => r.message_id), Array.from({ length: 100 }, (_, i) => `msg-${i}`))
    assert.ok(out.every((r) => r.kind === 'delivery' && r.provider === 'infobip' && r.record_id === out[0]!.record_id))
    ids.push(out.map((r) => String(r.id)))
  }
  assert.equal(new Set(ids[0]).size, 100)
  assert.deepEqual(ids[1], ids[0])
})

test('a batch of 100 Infobip results: 100 records, ids derived from the record id and the index, the same on replay', () => {
  const record = infobipBatch(100)
  const events = normaliseEvents(record, paris)
  assert.equal(events.length, 100)
  assert.equal(new Set(events.map((e) => e.id)).size, 100)
  for (const [i, e] of events.entries()) {
    assert.equal(e.record_id, record.id)
    assert.match(e.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.equal(e.provider, 'infobip')
    assert.equal(e.message_id, `msg-${i}`)
    assert.equal(e.status, i % 2 === 0 ? 'delivered' : 'failed')
    assert.equal(e.error_code, i % 2 === 0 ? null : '9')
  }
  const replayed = normaliseEvents(JSON.parse(JSON.stringify(record)) as SpoolRecord, paris)
  assert.deepEqual(replayed.map((e) => e.id), events.map((e) => e.id))
  // Another spool record (a re-send stored again) gets other ids: its natural keys tell the duplicates.
  const other = normaliseEvents({ ...record, id: '01900000-0000-7000-8000-000000000999' }, paris)
  assert.notEqual(other[0]!.id, events[0]!.id)
  // One event keeps the spool record's id.
  const singleRecord = providerRecord('infobip-report.http')
  const single = normaliseEvents(singleRecord, paris)
  assert.equal(single.length, 1)
  assert.equal(single[0]!.id, singleRecord.id)
  assert.equal('record_id' in single[0]!, false)
  // Taken as one record (not what the pass does), a batch is given whole, as unknown: nothing is lost.
  const whole = normaliseCallback(record, paris)
  assert.equal(whole.kind, 'unknown')
  assert.equal(whole.provider, 'infobip')
  assert.equal((whole.fields.results as unknown[]).length, 100)
})
