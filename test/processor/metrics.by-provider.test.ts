/**
 * Counting by provider: `cat --count` and `cat --provider`, the pass's `by_provider` figures and
 * their Prometheus form, and `status`'s line.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runProcessCommand } from '../../src/processor/run.js'
import { emptyFigures, formatPrometheus, providerFigures } from '../../src/processor/metrics.js'
import { buildRecord } from '../../src/receiver/build-record.js'
import type { SpoolRecord } from '../../src/record.js'
import { FIXTURES_DIR, loadFixture } from '../helpers/fixtures.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { runTool } from '../helpers/tool-io.js'
import { join } from 'node:path'

function fixture (name: string, dir = join(FIXTURES_DIR, 'providers')): SpoolRecord {
  const req = loadFixture(name, dir)
  return buildRecord({ method: req.method, url: req.target, remoteAddr: '127.0.0.1', headers: req.headers, body: req.body })
}

async function spool (t: Parameters<typeof tempDir>[0]): Promise<string> {
  const dir = await tempDir(t)
  const results = Array.from({ length: 3 }, (_, i) => ({ messageId: `ib-${i}`, to: '41793026731', status: { groupName: 'DELIVERED' }, doneAt: '2019-04-09T16:01:56.494+0000' }))
  await writeSegment(dir, 1, lines([
    fixture('twilio-status-undelivered.http'),
    fixture('twilio-reply.http'),
    fixture('twilio-optout.http'),
    fixture('vonage-dlr-json.http'),
    recordWithFields({ results }),
    fixture('delivery-json.http', FIXTURES_DIR),
    fixture('unknown-json.http', FIXTURES_DIR),
  ]))
  return dir
}

test('cat --count: records by provider and kind, a batch counted by event; --provider filters', async (t) => {
  const dir = await spool(t)
  const { code, out } = await runTool(['cat', '--data-dir', dir, '--count'])
  assert.equal(code, 0)
  assert.deepEqual(out.split('\n').filter((l) => l !== '').map((l) => l.split(/\s+/)), [
    ['infobip', 'delivery', '3'], ['infobip', 'total', '3'],
    ['none', 'unknown', '1'], ['none', 'total', '1'],
    ['octopush', 'delivery', '1'], ['octopush', 'total', '1'],
    ['twilio', 'delivery', '1'], ['twilio', 'reply', '1'], ['twilio', 'optout', '1'], ['twilio', 'total', '3'],
    ['vonage', 'delivery', '1'], ['vonage', 'total', '1'],
  ])
  const twilio = await runTool(['cat', '--data-dir', dir, '--provider', 'twilio,vonage'])
  assert.deepEqual(twilio.out.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { fields: Record<string, unknown> }).fields.MessageSid ?? 'vonage'),
    ['SM0123456789abcdef0123456789abcdef', 'SMfedcba9876543210fedcba9876543210', 'SM89abcdef0123456789abcdef01234567', 'vonage'])
  await assert.rejects(runTool(['cat', '--data-dir', dir, '--provider', 'nexmo']), { code: 'SPOOL_ERR_CONFIG' })
  await assert.rejects(runTool(['cat', '--data-dir', dir, '--count', '--follow']), { code: 'SPOOL_ERR_CONFIG' })
})

test('the pass counts by provider; status shows the last pass by provider; Prometheus has them', async (t) => {
  const dir = await spool(t)
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), () => {}), 0)
  const { out } = await runTool(['status', '--data-dir', dir])
  assert.match(out, /^by provider {2}infobip 3 done; none 1 done; octopush 1 done; twilio 3 done; vonage 1 done$/m)

  const figures = emptyFigures(new Date())
  providerFigures(figures, 'twilio').done += 2
  providerFigures(figures, 'twilio').duplicate++
  figures.duplicates = 1
  const text = formatPrometheus(figures)
  assert.match(text, /^callback_spool_process_provider_records\{provider="twilio",outcome="done"\} 2$/m)
  assert.match(text, /^callback_spool_process_provider_records\{provider="twilio",outcome="duplicate"\} 1$/m)
  assert.match(text, /^callback_spool_process_duplicates 1$/m)
})
