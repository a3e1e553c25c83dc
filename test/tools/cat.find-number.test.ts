/**
 * "My STOP was ignored": `cat --number` finds a number in any spelling the provider sent it
 * (`+33…`, `0033…`, `33…`, with separators, a national form given `--country`), where the README's
 * old `--grep 'number=\+336…'` missed all but one; `dead list` shows whose dead letter it is.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { runTool } from '../helpers/tool-io.js'
import { recordWithFields, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'

const SPELLINGS = ['+33600112233', '0033600112233', '33600112233', '+33 6 00 11 22 33', '0600112233']

async function spoolOfSpellings (t: import('node:test').TestContext): Promise<string> {
  const dir = await tempDir(t)
  const records = SPELLINGS.map((number, i) => recordWithFields({ message_id: `m${i}`, number, text: 'STOP' }))
  records.push(recordWithFields({ message_id: 'other', number: '+33700998877', text: 'STOP' }))
  await writeSegment(dir, 1, lines(records))
  return dir
}

const ids = (out: string): string[] => out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { fields: { message_id: string } }).fields.message_id)

test('cat --number matches every international spelling of the number, and only it', async (t) => {
  const dir = await spoolOfSpellings(t)
  for (const query of ['+33600112233', '0033600112233', '+33 6 00 11 22 33']) {
    assert.deepEqual(ids((await runTool(['cat', '--data-dir', dir, '--number', query])).out), ['m0', 'm1', 'm2', 'm3'], query)
  }
})

test('cat --number with --country also matches the national form, and takes one', async (t) => {
  const dir = await spoolOfSpellings(t)
  assert.deepEqual(ids((await runTool(['cat', '--data-dir', dir, '--number', '+33600112233', '--country', '33'])).out), ['m0', 'm1', 'm2', 'm3', 'm4'])
  assert.deepEqual(ids((await runTool(['cat', '--data-dir', dir, '--number', '06 00 11 22 33', '--country', '+33'])).out), ['m0', 'm1', 'm2', 'm3', 'm4'])
  await assert.rejects(runTool(['cat', '--data-dir', dir, '--number', '0600112233']), { code: 'SPOOL_ERR_CONFIG' })
  await assert.rejects(runTool(['cat', '--data-dir', dir, '--number', '+33600112233', '--country', 'FR']), { code: 'SPOOL_ERR_CONFIG' })
})

test('dead list shows the number of each dead letter, masked', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'dead'))
  const letter = { record: recordWithFields({ number: '0033600112233', text: 'STOP' }), kind: 'optout', target: 'exec:x', error: 'exit 1', attempts: 5, failed_at: '2026-01-01T00:00:00.000Z' }
  await writeFile(join(dir, 'dead', '2026-01-01.ndjson'), JSON.stringify(letter) + '\n')
  const out = (await runTool(['dead', 'list', '--data-dir', dir])).out
  assert.match(out, /optout +\+336\*{5}233 /)
  assert.equal(out.includes('33600112233'), false)
})

test('dead list: the number as the provider\'s profile reads it (Twilio\'s From), and a --source processor\'s normalised record\'s', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'dead'))
  const twilio = recordWithFields({ MessageSid: 'SM1', AccountSid: 'AC1', From: '+15551234567', To: '+15558675310', Body: 'STOP', OptOutType: 'STOP' })
  const normalised = { kind: 'reply', provider: 'octopush', id: '01a251b9-3c62-725d-9e19-d327ab4100de', received_at: '2026-01-01T00:00:00.000Z', message_id: 'm1', number: '+447700900123', our_number: null, event_date: null, event_time: null, fields: { text: 'hi' }, text: 'hi' }
  const letters = [
    { record: twilio, kind: 'optout', target: 'exec:x', error: 'exit 1', attempts: 5, failed_at: '2026-01-01T00:00:00.000Z' },
    { record: normalised, kind: 'reply', target: 'exec:x', error: 'exit 1', attempts: 5, failed_at: '2026-01-01T00:00:01.000Z' },
  ]
  await writeFile(join(dir, 'dead', '2026-01-01.ndjson'), letters.map((l) => JSON.stringify(l) + '\n').join(''))
  const out = (await runTool(['dead', 'list', '--data-dir', dir])).out.split('\n')
  assert.match(out[0]!, /optout +\+155\*{5}567 /)
  assert.match(out[1]!, /reply +\+447\*{6}123 /)
  assert.equal(out.join('\n').includes('5551234567'), false)
})
