/**
 * The delivery log's lines are written without JSON.stringify per line: they must still be the
 * bytes JSON.stringify gives for each entry, whatever its strings hold.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DeliveryLogWriter, loadTraceKey, numberKey, readDeliveryLog, type DeliveryAdd } from '../../src/spool/delivery-log.js'
import { dataLayout } from '../../src/spool/layout.js'
import { tempDir } from '../helpers/tmp.js'

test('delivery log: each line is JSON.stringify of its entry, escapes and odd values included', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  const writer = new DeliveryLogWriter(layout)
  const fileTargets = ['file:/tmp/out "quoted"\\delivery.ndjson']
  const entries: DeliveryAdd[] = [
    { id: '01900000-0000-7000-8000-000000000001', kind: 'delivery', outcome: 'done', targets: fileTargets, message_id: 'sms_1', number: '+33600112233' },
    { id: '01900000-0000-7000-8000-000000000002', kind: 'reply', outcome: 'done', targets: fileTargets, message_id: 'a "b" \\c\n\t\u0001\u2028 é 😀 \ud800 lone', number: null },
    { id: '01900000-0000-7000-8000-000000000003', kind: 'optout', outcome: 'dead', targets: [], message_id: null, number: '+33699999999' },
    { id: 'not "a" uuid\u007f', kind: 'unknown', outcome: 'dead', targets: ['exec:printf "x\\n"'], message_id: '', number: '+33600112233' },
    // One character to escape (or not) at a time.
    ...['back\\slash', 'tab\there', 'nul\u0000', 'unit\u001f', 'del\u007f', 'é', '\ud83d\ude00', '\udc00', '"', 'line\u2028sep', ' ~'].map((messageId, i): DeliveryAdd =>
      ({ id: `01900000-0000-7000-8000-0000000001${String(i).padStart(2, '0')}`, kind: 'reply', outcome: 'done', targets: fileTargets, message_id: messageId, number: null })),
    // Values a caller should not hand over, still serialised as JSON.stringify does.
    { id: '01900000-0000-7000-8000-000000000005', kind: 'delivery', outcome: 'done', targets: fileTargets, message_id: undefined as unknown as null, number: null },
    { id: '01900000-0000-7000-8000-000000000006', kind: 'delivery', outcome: 'done', targets: fileTargets, message_id: 42 as unknown as string, number: null },
  ]
  for (const entry of entries) writer.add(entry)
  await writer.flush()
  // A second commit appends to the same day's file.
  writer.add({ id: '01900000-0000-7000-8000-000000000007', kind: 'delivery', outcome: 'done', targets: ['a', 'b'], message_id: 'x'.repeat(70_000), number: '+33600112233' })
  await writer.flush()
  entries.push({ id: '01900000-0000-7000-8000-000000000007', kind: 'delivery', outcome: 'done', targets: ['a', 'b'], message_id: 'x'.repeat(70_000), number: '+33600112233' })

  const key = (await loadTraceKey(layout, false))!
  // One file per UTC day of `at` (one, unless the test runs across midnight).
  const files = (await readdir(layout.deliveries)).sort()
  let text = ''
  for (const file of files) {
    const content = await readFile(join(layout.deliveries, file), 'utf8')
    for (const line of content.split('\n').filter((l) => l !== '')) assert.equal(`${(JSON.parse(line) as { at: string }).at.slice(0, 10)}.ndjson`, file)
    text += content
  }
  const ats = (await readDeliveryLog(layout)).map((e) => e.at)
  assert.equal(ats.length, entries.length)
  const expected = entries.map((e, i) => JSON.stringify({
    id: e.id,
    at: ats[i],
    kind: e.kind,
    outcome: e.outcome,
    targets: e.targets,
    message_id: e.message_id,
    number_key: e.number === null ? null : numberKey(key, e.number),
  }) + '\n').join('')
  assert.equal(text, expected)
})
