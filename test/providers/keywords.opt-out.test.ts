import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { normaliseCallback } from '../../src/processor/normalise.js'
import { processOptionsFrom } from '../../src/processor/options.js'
import { ZonedTimeReader } from '../../src/processor/provider-time.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { KeywordLists } from '../../src/providers/keywords.js'
import { readNdjson } from '../helpers/ndjson.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'

const paris = new ZonedTimeReader('Europe/Paris')
const reply = (text: string): ReturnType<typeof recordWithFields> =>
  recordWithFields({ message_id: 'sms_1', number: '+33600000000', text, reception_date: '2020-11-04 11:11:45' })

test('a reply whose whole text is an opt-out or opt-in keyword is an optout or an optin', () => {
  for (const text of ['STOP', ' stop ', 'Arrêt', 'ARRET', 'stop  sms', 'Unsubscribe', 'STOPALL']) {
    const n = normaliseCallback(reply(text), paris)
    assert.equal(n.kind, 'optout', text)
    assert.equal(n.text, text, 'the text as sent')
    assert.equal(n.event_time, '2020-11-04T10:11:45.000Z')
  }
  for (const text of ['START', 'unstop']) assert.equal(normaliseCallback(reply(text), paris).kind, 'optin', text)
  for (const text of ['stop please', 'Yes', 'STOP!', '']) assert.equal(normaliseCallback(reply(text), paris).kind, 'reply', text)
  // A receipt is never one, whatever its fields.
  const receipt = recordWithFields({ message_id: 'sms_1', number: '+33600000000', status: 'DELIVERED', text: 'STOP', delivery_date: '2020-11-04 11:11:45' })
  assert.equal(normaliseCallback(receipt, paris).kind, 'delivery')
})

test('replacement lists: --optout-keywords and --optin-keywords', () => {
  const lists = new KeywordLists(['FIN'], ['OUI JE VEUX'])
  assert.equal(normaliseCallback(reply('fin'), paris, { keywords: lists }).kind, 'optout')
  assert.equal(normaliseCallback(reply('STOP'), paris, { keywords: lists }).kind, 'reply', 'the default list is replaced, not extended')
  assert.equal(normaliseCallback(reply('oui  je veux'), paris, { keywords: lists }).kind, 'optin')
  const parsed = processOptionsFrom({ ...baseOpts(), optoutKeywords: 'FIN, STOP SMS ,', optinKeywords: 'GO' })
  assert.deepEqual(parsed.optoutKeywords, ['FIN', 'STOP SMS'])
  assert.deepEqual(parsed.optinKeywords, ['GO'])
})

test('process: keyword opt-outs and opt-ins reach their own kind\'s target', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([reply('STOP'), reply('fin'), reply('start'), reply('bonjour')]))
  assert.equal(await runProcessCommand(processorOptions(dir, { optoutKeywords: ['FIN', 'STOP'] }), silentLogger(), () => {}), 0)
  const texts = async (kind: string): Promise<unknown[]> => (await readNdjson(join(dir, 'out', `${kind}.ndjson`))).map((r) => (r as { text: unknown }).text)
  assert.deepEqual(await texts('optout'), ['STOP', 'fin'])
  assert.deepEqual(await texts('optin'), ['start'])
  assert.deepEqual(await texts('reply'), ['bonjour'])
  assert.ok((await readFile(join(dir, 'out', 'optin.ndjson'), 'utf8')).includes('"kind":"optin"'))
})

function baseOpts (): Record<string, unknown> {
  return { dataDir: '/tmp/x', providerTz: 'Europe/Paris', maxAttempts: '5', tries: '3', retryDelay: '500ms', handlerTimeout: '30s', batchSize: '10000', retain: '7d', pollInterval: '1s', retryPause: '1m' }
}
