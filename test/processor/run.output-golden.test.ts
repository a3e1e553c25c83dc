/**
 * The exact bytes the default file handler writes, for every fixture and for hand-written spool
 * lines that are not in JSON.stringify's canonical form (spaces, \u escapes, integer-like keys,
 * duplicate keys, U+2028, a line longer than a read chunk). The processor's fast path must keep
 * these bytes; the expectations were produced by the processor before it was optimised.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand } from '../../src/processor/run.js'
import { encodeRecord } from '../../src/record.js'
import { FIXTURES_DIR } from '../helpers/fixtures.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { fixtureRecord } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'

const LONG_TEXT = 'x'.repeat(100_000)

async function fixtureLines (): Promise<string> {
  const files = (await readdir(FIXTURES_DIR)).filter((f) => f.endsWith('.http')).sort()
  let text = ''
  for (const [i, file] of files.entries()) {
    const record = await fixtureRecord(file, new Date(Date.UTC(2026, 10, 27, 9, 0, i)))
    record.id = `01900000-0000-7000-8000-00000000000${i}`
    record.remote_addr = '127.0.0.1'
    text += encodeRecord(record)
  }
  return text
}

/** Spool lines as a hand or another tool might write them: valid, but not canonical. */
const HAND_WRITTEN = [
  '{ "v": 1, "id": "01900000-0000-7000-8000-000000000100", "received_at": "2026-11-27T10:00:00.000Z", "method": "POST", "path": "/cb", "query": {}, "remote_addr": "::1", "headers": {}, "body": "", ' +
    '"fields": { "b": 1, "10": "ten", "2": "two", "DELIVERY_DATE": "2026-07-01 12:00:00", "status": "D\\u00e9livr\\u00e9", "number": "  0033600112233 ", "message_id": 42, "x": 1.50, "e": 1e3, "esc": "\\/\\u0041" } }',
  '{"v":1,"id":"01900000-0000-7000-8000-000000000101","received_at":"2026-11-27T10:00:01Z","method":"POST","path":"/cb","query":{"a":["1","2"]},"remote_addr":"::1","headers":{},"body":"",' +
    '"fields":{"number":" 33612345678","text":"line\u2028sep \ud83d\ude00 ok \\u0001","reception_date":"2026-10-25 02:30:00","message_id":["m1","m2"]}}',
  '{"v":1,"id":"01900000-0000-7000-8000-000000000102","received_at":"2026-11-27T10:00:02.000Z","method":"GET","path":"/cb","query":{},"remote_addr":"::1","headers":{},"body_base64":"/w==",' +
    '"fields":{"stop_date":["2026-03-29 02:30:00","x"],"number":"0033600000000","text":null,"stop_date":"2026-03-29 02:30:00"}}',
  '{"v":1,"id":"01900000-0000-7000-8000-000000000103","received_at":"2026-11-27T10:00:03.000Z","method":"POST","path":"/cb","query":{},"remote_addr":"::1","headers":{},"body":"",' +
    '"fields":{"delivery_date":"2020-11-04T11:11:45+01:00","status":null,"nested":{"z":[1,{"y":true}],"1":null},"__proto__":{"p":1}}}',
  '{"v":1,"id":"01900000-0000-7000-8000-000000000104","received_at":"2026-11-27T10:00:04.000Z","method":"POST","path":"/cb","query":{},"remote_addr":"::1","headers":{},"body":"",' +
    '"fields":{"answer_date":"soon","text":"' + LONG_TEXT + '","number":"+33 6 00 00 00 00"}}',
  'not json at all',
  '{"v":2,"id":"01900000-0000-7000-8000-000000000105"}',
  '{"v":1,"id":"01900000-0000-7000-8000-000000000106","received_at":"2026-11-27T10:00:06.000Z","method":"POST","path":"/cb","query":{},"remote_addr":"::1","headers":{},"body":"","fields":{}}',
].join('\n') + '\n'

const EXPECTED: Record<string, string> = {
  delivery:
    '{"kind":"delivery","provider":"octopush","id":"01900000-0000-7000-8000-000000000000","received_at":"2026-11-27T09:00:00.000Z","message_id":"sms_5fa275dbf21dc","number":"+33600112233","our_number":null,"event_date":"2020-11-04 11:11:45","event_time":"2020-11-04T10:11:45.000Z","fields":{"channel":"sms","message_id":"sms_5fa275dbf21dc","number":"+33600112233","status":"NOT_DELIVERED","delivery_date":"2020-11-04 11:11:45"},"status":"failed","provider_status":"NOT_DELIVERED","error_code":null}\n' +
    '{"kind":"delivery","provider":"octopush","id":"01900000-0000-7000-8000-000000000001","received_at":"2026-11-27T09:00:01.000Z","message_id":"sms_5fa275dbf21dc","number":"+33600112233","our_number":null,"event_date":"2020-11-04 11:11:45","event_time":"2020-11-04T10:11:45.000Z","fields":{"channel":"sms","message_id":"sms_5fa275dbf21dc","list_name":"List Name","number":"+33600112233","status":"DELIVERED","unit_price":0.5,"delivery_date":"2020-11-04 11:11:45","meta_data":{}},"status":"delivered","provider_status":"DELIVERED","error_code":null}\n' +
    '{"kind":"delivery","provider":"octopush","id":"01900000-0000-7000-8000-000000000007","received_at":"2026-11-27T09:00:07.000Z","message_id":"vsms_61aa2b00c1e2f","number":"+33600112233","our_number":null,"event_date":"2021-12-03 14:02:10","event_time":"2021-12-03T13:02:10.000Z","fields":{"channel":"voice_sms","message_id":"vsms_61aa2b00c1e2f","number":"+33600112233","status":"BUSY","delivery_date":"2021-12-03 14:02:10","call_duration":0,"charged_duration":0,"pressed_keys_code":"","meta_data":{}},"status":"failed","provider_status":"BUSY","error_code":null}\n' +
    '{"kind":"delivery","provider":"octopush","id":"01900000-0000-7000-8000-000000000100","received_at":"2026-11-27T10:00:00.000Z","message_id":"42","number":"+0033600112233","our_number":null,"event_date":"2026-07-01 12:00:00","event_time":"2026-07-01T10:00:00.000Z","fields":{"2":"two","10":"ten","b":1,"DELIVERY_DATE":"2026-07-01 12:00:00","status":"Délivré","number":"  0033600112233 ","message_id":42,"x":1.5,"e":1000,"esc":"/A"},"status":"unknown","provider_status":"Délivré","error_code":null}\n' +
    '{"kind":"delivery","provider":"octopush","id":"01900000-0000-7000-8000-000000000103","received_at":"2026-11-27T10:00:03.000Z","message_id":null,"number":null,"our_number":null,"event_date":"2020-11-04T11:11:45+01:00","event_time":"2020-11-04T10:11:45.000Z","fields":{"delivery_date":"2020-11-04T11:11:45+01:00","status":null,"nested":{"1":null,"z":[1,{"y":true}]},"__proto__":{"p":1}},"status":null,"provider_status":null,"error_code":null}\n',
  reply:
    '{"kind":"reply","provider":"octopush","id":"01900000-0000-7000-8000-000000000004","received_at":"2026-11-27T09:00:04.000Z","message_id":"sms_5fa275dbf21dc","number":"+33600000000","our_number":null,"event_date":"2020-11-04 11:11:45","event_time":"2020-11-04T10:11:45.000Z","fields":{"message_id":"sms_5fa275dbf21dc","number":"0033600000000","text":"Oui merci, à demain","answer_date":"2020-11-04 11:11:45"},"text":"Oui merci, à demain"}\n' +
    '{"kind":"reply","provider":"octopush","id":"01900000-0000-7000-8000-000000000005","received_at":"2026-11-27T09:00:05.000Z","message_id":"sms_5fa275dbf21dc","number":"+44600000000","our_number":"12345","event_date":"2020-11-04 11:11:45","event_time":"2020-11-04T10:11:45.000Z","fields":{"message_id":"sms_5fa275dbf21dc","number":"+44600000000","text":"some reply","sim_card_number":"12345","reception_date":"2020-11-04 11:11:45"},"text":"some reply"}\n' +
    '{"kind":"reply","provider":"octopush","id":"01900000-0000-7000-8000-000000000101","received_at":"2026-11-27T10:00:01Z","message_id":"m1","number":"+33612345678","our_number":null,"event_date":"2026-10-25 02:30:00","event_time":"2026-10-25T00:30:00.000Z","fields":{"number":" 33612345678","text":"line\u2028sep 😀 ok \\u0001","reception_date":"2026-10-25 02:30:00","message_id":["m1","m2"]},"text":"line\u2028sep 😀 ok \\u0001"}\n' +
    '{"kind":"reply","provider":"octopush","id":"01900000-0000-7000-8000-000000000104","received_at":"2026-11-27T10:00:04.000Z","message_id":null,"number":"+33 6 00 00 00 00","our_number":null,"event_date":"soon","event_time":null,"fields":{"answer_date":"soon","text":"<LONG_TEXT>","number":"+33 6 00 00 00 00"},"text":"<LONG_TEXT>"}\n',
  optout:
    '{"kind":"optout","provider":"octopush","id":"01900000-0000-7000-8000-000000000002","received_at":"2026-11-27T09:00:02.000Z","message_id":"sms_5fa275dbf21dc","number":"+33600000000","our_number":null,"event_date":"2020-11-04 11:11:45","event_time":"2020-11-04T10:11:45.000Z","fields":{"message_id":"sms_5fa275dbf21dc","number":"+33600000000","text":"STOP","stop_date":"2020-11-04 11:11:45"},"text":"STOP"}\n' +
    '{"kind":"optout","provider":"octopush","id":"01900000-0000-7000-8000-000000000003","received_at":"2026-11-27T09:00:03.000Z","message_id":"sms_5fa275dbf21dc","number":"+33600000000","our_number":null,"event_date":"2020-11-04 11:11:45","event_time":"2020-11-04T10:11:45.000Z","fields":{"message_id":"sms_5fa275dbf21dc","number":"+33600000000","text":"stop","stop_date":"2020-11-04 11:11:45"},"text":"stop"}\n' +
    '{"kind":"optout","provider":"octopush","id":"01900000-0000-7000-8000-000000000102","received_at":"2026-11-27T10:00:02.000Z","message_id":null,"number":"+33600000000","our_number":null,"event_date":"2026-03-29 02:30:00","event_time":"2026-03-29T01:30:00.000Z","fields":{"stop_date":"2026-03-29 02:30:00","number":"0033600000000","text":null},"text":null}\n',
  unknown:
    '{"kind":"unknown","provider":null,"id":"01900000-0000-7000-8000-000000000006","received_at":"2026-11-27T09:00:06.000Z","message_id":null,"number":null,"our_number":null,"event_date":null,"event_time":null,"fields":{"event":"test","sent_at":"2020-11-04 11:11:45"}}\n' +
    '{"kind":"unknown","provider":null,"id":"01900000-0000-7000-8000-000000000106","received_at":"2026-11-27T10:00:06.000Z","message_id":null,"number":null,"our_number":null,"event_date":null,"event_time":null,"fields":{}}\n',
}

test('default file handler: exact output bytes for the fixtures and non-canonical lines', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, await fixtureLines())
  await writeSegment(dir, 2, HAND_WRITTEN)
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), () => {}), 0)
  for (const [kind, expected] of Object.entries(EXPECTED)) {
    const got = await readFile(join(dir, 'out', `${kind}.ndjson`), 'utf8')
    assert.equal(got, expected.replaceAll('<LONG_TEXT>', LONG_TEXT), kind)
  }
  const dead = (await readFile(join(dir, 'dead', (await readdir(join(dir, 'dead')))[0]!), 'utf8')).trim().split('\n')
  assert.deepEqual(dead.map((l) => (JSON.parse(l) as { error: string }).error.replace(/:.*/, '')), ['invalid JSON', 'unsupported record version 2'])
})
