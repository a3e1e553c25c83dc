import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { purgeNumber } from '../../src/tools/purge-number.js'
import { deleteOldDeliveryLogs } from '../../src/spool/delivery-log.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { runTool } from '../helpers/tool-io.js'
import { processorOptions } from '../helpers/processor.js'
import { dataLayout } from '../../src/spool/layout.js'

const noSignals = (): void => {}

interface Traced { id: string, state: string, targets: string[], error: string | null, summary: string }

test('trace: a number\'s delivered reply, pending receipt, dead-lettered opt-out and a record removed by retention, the number spelled three ways', async (t) => {
  const dir = await tempDir(t)
  const hour = 3_600_000
  const old = recordWithFields({ message_id: 'sms_old', number: '+33600112233', status: 'DELIVERED', delivery_date: '2026-01-01 10:00:00' }, new Date(Date.now() - 3 * hour))
  const other = recordWithFields({ message_id: 'sms_other', number: '+33699999999', status: 'DELIVERED', delivery_date: '2026-01-01 10:00:00' }, new Date(Date.now() - 3 * hour + 1))
  const seg1 = await writeSegment(dir, 1, lines([old, other]))
  const routes = ['delivery=file:' + join(dir, 'out', 'delivery.ndjson'), 'reply=file:' + join(dir, 'out', 'reply.ndjson'), 'optout=exec:printf "refused +336001%s\\n" 12233 >&2; exit 65'].map(parseRoute)
  assert.equal(await runProcessCommand(processorOptions(dir, { routes }), silentLogger(), noSignals), 0)

  const reply = recordWithFields({ message_id: 'sms_1', number: '0033600112233', text: 'hello', reception_date: '2026-01-01 11:00:00' }, new Date(Date.now() - 2 * hour))
  const stop = recordWithFields({ message_id: 'sms_2', number: '+33 6 00 11 22 33'.replace(/ /g, ''), text: 'STOP', stop_date: '2026-01-01 11:01:00' }, new Date(Date.now() - 2 * hour + 1))
  await writeSegment(dir, 2, lines([reply, stop]))
  // The first segment is old enough for retention (its mtime is its age).
  const past = new Date(Date.now() - 2 * 86_400_000)
  await utimes(join(dir, 'spool', seg1), past, past)
  assert.equal(await runProcessCommand(processorOptions(dir, { routes, retainMs: 86_400_000 }), silentLogger(), noSignals), 0)
  assert.ok(!(await readdir(join(dir, 'spool'))).includes(seg1), 'retention deleted the first segment')
  // A receipt spooled after the last pass: past the checkpoint.
  const receipt = recordWithFields({ message_id: 'sms_1', number: '0033600112233', status: 'DELIVERED', delivery_date: '2026-01-01 11:02:00' }, new Date(Date.now() - hour))
  await writeSegment(dir, 3, lines([receipt]))

  // No phone number in clear in the delivery log.
  for (const name of await readdir(join(dir, 'state', 'deliveries'))) {
    assert.doesNotMatch(await readFile(join(dir, 'state', 'deliveries', name), 'utf8'), /600112233/)
  }

  for (const argv of [['+33600112233'], ['0033 6 00 11 22 33'], ['0600112233', '--country', 'FR']]) {
    const { out } = await runTool(['trace', ...argv, '--data-dir', dir, '--json'])
    const records = (JSON.parse(out) as { records: Traced[] }).records
    assert.deepEqual(records.map((r) => [r.id, r.state]), [[old.id, 'deleted'], [reply.id, 'done'], [stop.id, 'dead'], [receipt.id, 'pending']], argv.join(' '))
    assert.match(records[0]!.summary, /^deleted by retention; handed to file:.*delivery\.ndjson at /)
    assert.deepEqual(records[1]!.targets, ['file:' + join(dir, 'out', 'reply.ndjson')])
    assert.match(records[2]!.error!, /refused \+336\*+233/, 'the error is masked')
    assert.doesNotMatch(out, /600112233/, 'no number in clear')
  }
  const human = await runTool(['trace', '+33600112233', '--data-dir', dir])
  assert.match(human.out, /^4 record\(s\) of number \+336\*+233, oldest first:\n/)
  assert.ok(human.out.split('\n').length <= 6, 'one screen')
  // By message id: the reply and its receipt.
  const byMessage = JSON.parse((await runTool(['trace', 'sms_1', '--data-dir', dir, '--json'])).out) as { records: Traced[] }
  assert.deepEqual(byMessage.records.map((r) => r.id), [reply.id, receipt.id])

  // Erasure: purge --number leaves trace nothing to find, the delivery log included.
  await purgeNumber(dataLayout(dir), '+33600112233')
  const after = JSON.parse((await runTool(['trace', '+33600112233', '--data-dir', dir, '--json'])).out) as { records: Traced[] }
  assert.deepEqual(after.records, [])
})

test('the delivery log: a day\'s file goes once the whole day is older than --retain; --retain 0 keeps it', async (t) => {
  const dir = await tempDir(t)
  const logs = join(dir, 'state', 'deliveries')
  await mkdir(logs, { recursive: true })
  await writeFile(join(logs, '2026-01-01.ndjson'), '{}\n')
  await writeFile(join(logs, '2026-01-05.ndjson'), '{}\n')
  const now = Date.parse('2026-01-07T12:00:00Z')
  await deleteOldDeliveryLogs(dataLayout(dir), 0, now)
  assert.deepEqual(await readdir(logs), ['2026-01-01.ndjson', '2026-01-05.ndjson'])
  await deleteOldDeliveryLogs(dataLayout(dir), 3 * 86_400_000, now)
  assert.deepEqual(await readdir(logs), ['2026-01-05.ndjson'])
})
