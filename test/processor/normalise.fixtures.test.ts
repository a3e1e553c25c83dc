import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { classifyCallback } from '../../src/processor/classify.js'
import { normaliseCallback, normaliseNumber } from '../../src/processor/normalise.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { FIXTURES_DIR } from '../helpers/fixtures.js'
import { fixtureRecord, recordWithFields } from '../helpers/records.js'

const paris = new ZonedTimeReader('Europe/Paris')

test('every fixture is classified and normalised to the right kind and fields', async () => {
  const expected: Record<string, Record<string, unknown>> = {
    'delivery-form.http': { kind: 'delivery', message_id: 'sms_5fa275dbf21dc', number: '+33600112233', status: 'failed', provider_status: 'NOT_DELIVERED', error_code: null, event_date: '2020-11-04 11:11:45', event_time: '2020-11-04T10:11:45.000Z' },
    'delivery-json.http': { kind: 'delivery', message_id: 'sms_5fa275dbf21dc', number: '+33600112233', status: 'delivered', provider_status: 'DELIVERED', error_code: null, event_date: '2020-11-04 11:11:45', event_time: '2020-11-04T10:11:45.000Z' },
    'voice-delivery-json.http': { kind: 'delivery', message_id: 'vsms_61aa2b00c1e2f', number: '+33600112233', status: 'failed', provider_status: 'BUSY', error_code: null, event_date: '2021-12-03 14:02:10', event_time: '2021-12-03T13:02:10.000Z' },
    'optout-form.http': { kind: 'optout', message_id: 'sms_5fa275dbf21dc', number: '+33600000000', text: 'STOP', event_date: '2020-11-04 11:11:45', event_time: '2020-11-04T10:11:45.000Z' },
    'optout-json.http': { kind: 'optout', message_id: 'sms_5fa275dbf21dc', number: '+33600000000', text: 'stop', event_date: '2020-11-04 11:11:45', event_time: '2020-11-04T10:11:45.000Z' },
    'reply-form-legacy.http': { kind: 'reply', message_id: 'sms_5fa275dbf21dc', number: '+33600000000', text: 'Oui merci, à demain', event_date: '2020-11-04 11:11:45', event_time: '2020-11-04T10:11:45.000Z' },
    'reply-json.http': { kind: 'reply', provider: 'octopush', message_id: 'sms_5fa275dbf21dc', number: '+44600000000', our_number: '12345', text: 'some reply', event_date: '2020-11-04 11:11:45', event_time: '2020-11-04T10:11:45.000Z' },
    'unknown-json.http': { kind: 'unknown', provider: null, message_id: null, number: null, event_date: null, event_time: null },
  }
  const files = (await readdir(FIXTURES_DIR)).filter((f) => f.endsWith('.http')).sort()
  assert.deepEqual(files, Object.keys(expected).sort(), 'a new fixture needs an expectation here')
  for (const file of files) {
    const record = await fixtureRecord(file)
    const n = normaliseCallback(record, paris)
    assert.equal(n.id, record.id, file)
    assert.equal(n.received_at, record.received_at, file)
    assert.deepEqual({ ...n.fields }, { ...record.fields }, file)
    for (const [key, value] of Object.entries(expected[file]!)) {
      assert.deepEqual((n as unknown as Record<string, unknown>)[key], value, `${file}: ${key}`)
    }
    if (n.kind !== 'delivery') assert.equal('status' in n, false, `${file}: status only for deliveries`)
    if (n.kind === 'delivery' || n.kind === 'unknown') assert.equal('text' in n, false, `${file}: text only for replies and opt-outs`)
  }
})

test('kind rules: stop wins over reply; delivery_date in any case; answer_date is a reply', () => {
  assert.equal(classifyCallback({ text: 'STOP', reception_date: 'x', stop_date: 'x' }).kind, 'optout')
  assert.equal(classifyCallback({ stop_date: 'x', delivery_date: 'x' }).kind, 'optout')
  assert.deepEqual(classifyCallback({ DELIVERY_DATE: '2020-11-04 11:11:45' }), { kind: 'delivery', dateField: 'DELIVERY_DATE' })
  assert.equal(classifyCallback({ Delivery_Date: 'x', reception_date: 'x' }).kind, 'delivery')
  assert.equal(classifyCallback({ reception_date: 'x' }).kind, 'reply')
  assert.equal(classifyCallback({ answer_date: 'x' }).kind, 'reply')
  assert.equal(classifyCallback({ text: 'hello' }).kind, 'unknown')
  assert.equal(classifyCallback({}).kind, 'unknown')
  const n = normaliseCallback(recordWithFields({ DELIVERY_DATE: '2020-11-04 11:11:45', status: 'ACK' }), paris)
  assert.equal(n.event_date, '2020-11-04 11:11:45')
  assert.equal(n.status, 'sent')
  assert.equal(n.provider_status, 'ACK')
})

test('numbers: + kept, 00 becomes +, a leading space becomes +, bare digits kept', () => {
  assert.equal(normaliseNumber('+33600112233'), '+33600112233')
  assert.equal(normaliseNumber('0033600112233'), '+33600112233')
  assert.equal(normaliseNumber(' 33600112233'), '+33600112233')
  assert.equal(normaliseNumber('33600112233'), '33600112233')
  assert.equal(normaliseNumber('0600112233'), '0600112233')
  assert.equal(normaliseNumber(null), null)
  // A form with an unencoded + arrives as a space, and comes out as E.164.
  const n = normaliseCallback(recordWithFields({ number: ' 33600112233', stop_date: '2020-11-04 11:11:45' }), paris)
  assert.equal(n.number, '+33600112233')
})

test('provider dates in Europe/Paris across both DST edges (Temporal "compatible")', () => {
  // Winter (UTC+1) and summer (UTC+2).
  assert.equal(paris.toIsoUtc('2026-01-15 12:00:00'), '2026-01-15T11:00:00.000Z')
  assert.equal(paris.toIsoUtc('2026-07-15 12:00:00'), '2026-07-15T10:00:00.000Z')
  // Spring: 02:00-03:00 on 29 March 2026 does not exist; shifted forward by the gap (03:30 CEST).
  assert.equal(paris.toIsoUtc('2026-03-29 02:30:00'), '2026-03-29T01:30:00.000Z')
  assert.equal(paris.toIsoUtc('2026-03-29 01:59:59'), '2026-03-29T00:59:59.000Z')
  assert.equal(paris.toIsoUtc('2026-03-29 03:00:00'), '2026-03-29T01:00:00.000Z')
  // Autumn: 02:00-03:00 on 25 October 2026 happens twice; the first (CEST, UTC+2) is taken.
  assert.equal(paris.toIsoUtc('2026-10-25 02:30:00'), '2026-10-25T00:30:00.000Z')
  assert.equal(paris.toIsoUtc('2026-10-25 01:59:59'), '2026-10-24T23:59:59.000Z')
  assert.equal(paris.toIsoUtc('2026-10-25 03:00:00'), '2026-10-25T02:00:00.000Z')
  // Other zones, and unreadable dates.
  assert.equal(new ZonedTimeReader('America/New_York').toIsoUtc('2026-03-08 02:30:00'), '2026-03-08T07:30:00.000Z')
  assert.equal(new ZonedTimeReader('UTC').toIsoUtc('2020-11-04 11:11:45'), '2020-11-04T11:11:45.000Z')
  assert.equal(paris.toIsoUtc('2020-11-04T11:11:45Z'), '2020-11-04T11:11:45.000Z')
  assert.equal(paris.toIsoUtc('2020-02-30 10:00:00'), undefined)
  assert.equal(paris.toIsoUtc('yesterday'), undefined)
  assert.equal(normaliseCallback(recordWithFields({ reception_date: 'soon' }), paris).event_time, null)
  assert.throws(() => new ZonedTimeReader('Mars/Olympus'), { code: 'SPOOL_ERR_CONFIG' })
})
