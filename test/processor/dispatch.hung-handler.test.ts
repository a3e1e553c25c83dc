import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, access } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { tempDir } from '../helpers/tmp.js'
import { capturingLogger } from '../helpers/logger.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { processorOptions } from '../helpers/processor.js'
import { waitFor } from '../helpers/wait.js'

test('a hung handler is seen as it happens: a warn line per timeout, "still waiting" lines, the pass in progress in state/, the stuck record in last-pass.json', async (t) => {
  const dir = await tempDir(t)
  const record = deliveryRecord(1)
  await writeSegment(dir, 1, lines([record]))
  const { logger, lines: logged } = capturingLogger()
  const options = processorOptions(dir, {
    routes: [parseRoute('delivery=exec:sleep 30')],
    handlerTimeoutMs: 1500,
    tries: 2,
    watchIntervalMs: 300,
  })
  const run = runProcessCommand(options, logger, () => {})
  const progressPath = join(dir, 'state', 'pass-progress.json')
  let progress: { waiting: Array<{ id: string, target: string }> } = { waiting: [] }
  await waitFor('the pass in progress in state/pass-progress.json', async () => {
    try {
      progress = JSON.parse(await readFile(progressPath, 'utf8')) as typeof progress
    } catch {}
    return progress.waiting.length > 0
  }, 20_000)
  assert.equal(progress.waiting[0]!.id, record.id)
  assert.match(progress.waiting[0]!.target, /^exec:/)
  assert.equal(await run, EXIT_TEMPFAIL)

  const warn = logged.filter((l) => l.level === 40 || l.level === 'warn')
  const still = warn.filter((l) => typeof l.msg === 'string' && l.msg.startsWith(`still waiting on record ${record.id}, target exec:`))
  assert.ok(still.length >= 1, 'a "still waiting" line')
  const failedTry = warn.filter((l) => l.msg === 'handler failed (try 1 of 2); retrying')
  assert.equal(failedTry.length, 1, 'the first timeout has its own line')
  assert.match(String(failedTry[0]!.error), /timed out/)
  await assert.rejects(access(progressPath), { code: 'ENOENT' }, 'no progress file once the pass ended')
  const last = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { stuck: Record<string, unknown> }
  assert.equal(last.stuck.id, record.id)
  assert.equal(last.stuck.kind, 'delivery')
  assert.equal(last.stuck.attempts, 1)
  assert.equal(last.stuck.max_attempts, 5)
  assert.match(String(last.stuck.error), /timed out/)
})

test('a failing handler\'s error text (its stderr) has its phone numbers masked in the log lines and the stuck record', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const { logger, lines: logged } = capturingLogger()
  // The number is built by the shell, so that only the handler's stderr carries it.
  const options = processorOptions(dir, { routes: [parseRoute('delivery=exec:printf "no route to +336001%s\\n" 12233 >&2; exit 1')], tries: 2 })
  assert.equal(await runProcessCommand(options, logger, () => {}), EXIT_TEMPFAIL)
  const failed = logged.filter((l) => l.msg === 'handler failed (try 1 of 2); retrying')
  assert.equal(failed.length, 1)
  assert.match(String(failed[0]!.error), /no route to \+336\*+233/)
  assert.doesNotMatch(JSON.stringify(logged.filter((l) => (l.level as number) >= 30)), /33600112233/)
  const last = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { stuck: { error: string } }
  assert.doesNotMatch(last.stuck.error, /33600112233/)
})
