import { existsSync } from 'node:fs'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, writeFile, mkdir, utimes } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { Processor } from '../../src/processor/pass.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { loadCheckpoint, saveCheckpoint } from '../../src/spool/checkpoint.js'
import { tryAcquireLock } from '../../src/spool/lock.js'
import { encodeRecord } from '../../src/record.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { capturingLogger, silentLogger } from '../helpers/logger.js'
import { deliveryRecord, fixtureRecord, lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { readNdjson } from '../helpers/ndjson.js'
import { processorOptions } from '../helpers/processor.js'
import { dataLayout } from '../../src/spool/layout.js'

const noSignals = (): void => {}

test('one pass: every kind to <data-dir>/out/<kind>.ndjson, checkpoint at the end, one log line with figures and no numbers', async (t) => {
  const dir = await tempDir(t)
  const recs = await Promise.all(['delivery-json.http', 'reply-json.http', 'optout-form.http', 'unknown-json.http'].map((f) => fixtureRecord(f)))
  const seg = await writeSegment(dir, 1, lines(recs))
  const { logger, lines: logged } = capturingLogger()
  assert.equal(await runProcessCommand(processorOptions(dir), logger, noSignals), 0)
  for (const [i, kind] of ['delivery', 'reply', 'optout', 'unknown'].entries()) {
    const out = await readNdjson(join(dir, 'out', `${kind}.ndjson`))
    assert.equal(out.length, 1, kind)
    assert.equal(out[0]!.id, recs[i]!.id)
    assert.equal(out[0]!.kind, kind)
  }
  const cp = await loadCheckpoint(dataLayout(dir))
  assert.deepEqual([cp?.segment, cp?.offset], [seg, Buffer.byteLength(lines(recs))])
  const pass = logged.filter((l) => l.outcome === 'done' && l.records_read !== undefined)
  assert.equal(pass.length, 1)
  assert.equal(pass[0]!.records_read, 4)
  assert.deepEqual((pass[0]!.by_kind as Record<string, unknown>).reply, { done: 1, dead: 0, skipped: 0 })
  assert.equal(pass[0]!.lag_records, 0)
  const infoText = logged.filter((l) => (l.level as number) >= 30).map((l) => JSON.stringify(l)).join('\n')
  assert.doesNotMatch(infoText, /3360|4460|some reply/, 'no phone number or message text above debug')
  const lastPass = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8'))
  assert.equal(lastPass.outcome, 'done')
  assert.equal(lastPass.figures.records_read, 4)
})

test('checkpoint resume: a second pass dispatches only what was appended since', async (t) => {
  const dir = await tempDir(t)
  const first = [deliveryRecord(1), deliveryRecord(2)]
  const seg = await writeSegment(dir, 1, lines(first))
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  const more = [deliveryRecord(3)]
  await writeFile(join(dir, 'spool', seg), lines(first) + lines(more))
  const seg2 = await writeSegment(dir, 2, lines([deliveryRecord(4)]))
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  const out = await readNdjson(join(dir, 'out', 'delivery.ndjson'))
  assert.deepEqual(out.map((r) => (r.fields as Record<string, string>).message_id), ['sms_1', 'sms_2', 'sms_3', 'sms_4'])
  assert.equal((await loadCheckpoint(dataLayout(dir)))?.segment, seg2)
  // Nothing new: nothing dispatched again.
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  assert.equal((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).length, 4)
})

test('a corrupt checkpoint stops the pass with code SPOOL_ERR_CHECKPOINT_CORRUPT and dispatches nothing', async (t) => {
  const dir = await tempDir(t)
  const seg = await writeSegment(dir, 1, lines([deliveryRecord(1), deliveryRecord(2)]))
  await mkdir(join(dir, 'state'), { recursive: true })
  await writeFile(join(dir, 'state', 'checkpoint.json'), JSON.stringify({ segment: seg, offset: 5, updated_at: '' }))
  await assert.rejects(runProcessCommand(processorOptions(dir), silentLogger(), noSignals), { code: 'SPOOL_ERR_CHECKPOINT_CORRUPT', exitCode: 78 })
  assert.deepEqual(await readNdjson(join(dir, 'out', 'delivery.ndjson')), [])
  // The lock was released: a repaired checkpoint lets the next run work.
  await saveCheckpoint(dataLayout(dir), { segment: seg, offset: 0 })
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  assert.equal((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).length, 2)
})

test('invalid lines go to the dead letters with the reason and never stop the pass; torn tails are quarantined', async (t) => {
  const dir = await tempDir(t)
  const good = [deliveryRecord(1), deliveryRecord(2)]
  const notV1 = JSON.stringify({ ...deliveryRecord(9), v: 2 })
  const seg1 = await writeSegment(dir, 1, lines([good[0]!]) + 'not json at all\n' + notV1 + '\n[1,2]\n' + '{"v":1,"id":"to')
  await writeSegment(dir, 2, lines([good[1]!]) + '{"v":1,"partial')
  const { logger, lines: logged } = capturingLogger()
  assert.equal(await runProcessCommand(processorOptions(dir), logger, noSignals), 0)
  assert.deepEqual((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).map((r) => r.id), good.map((r) => r.id))
  const deadFiles = await readdir(join(dir, 'dead'))
  const dead = (await Promise.all(deadFiles.map((f) => readNdjson(join(dir, 'dead', f))))).flat()
  assert.equal(dead.length, 3)
  assert.equal(dead[0]!.record, 'not json at all')
  assert.match(dead[0]!.error as string, /invalid JSON/)
  assert.match(dead[1]!.error as string, /unsupported record version 2/)
  assert.match(dead[2]!.error as string, /not a JSON object/)
  for (const d of dead) {
    assert.equal(d.segment, seg1)
    assert.equal(typeof d.offset, 'number')
    assert.ok('kind' in d && 'target' in d && 'attempts' in d && 'failed_at' in d)
  }
  const q = await readdir(join(dir, 'quarantine'))
  assert.equal(q.length, 1)
  assert.match(q[0]!, new RegExp(`^${seg1}@\\d+\\.fragment$`))
  assert.equal(await readFile(join(dir, 'quarantine', q[0]!), 'utf8'), '{"v":1,"id":"to')
  const pass = logged.find((l) => l.records_read !== undefined)!
  assert.equal(pass.invalid, 3)
  assert.equal(pass.quarantined, 1)
  // The partial line of the newest segment is not read (yet).
  const out = await readNdjson(join(dir, 'out', 'delivery.ndjson'))
  assert.equal(out.length, 2)
})

test('two processors at once: the second logs one line and exits 0 without dispatching', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const held = await tryAcquireLock(dataLayout(dir), 'processor')
  assert.ok(held)
  const { logger, lines: logged } = capturingLogger()
  assert.equal(await runProcessCommand(processorOptions(dir), logger, noSignals), 0)
  assert.equal(logged.filter((l) => /another processor/.test(l.msg as string)).length, 1)
  assert.deepEqual(await readNdjson(join(dir, 'out', 'delivery.ndjson')), [])
  await held.release()
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  assert.equal((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).length, 1)
})

test('retention deletes old fully processed segments only: never the newest, never one with unprocessed records', async (t) => {
  const dir = await tempDir(t)
  const s1 = await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const s2 = await writeSegment(dir, 2, lines([deliveryRecord(2)]))
  const s3 = await writeSegment(dir, 3, lines([recordWithFields({ stop_date: 'x' })]))
  const s4 = await writeSegment(dir, 4, lines([deliveryRecord(4)]))
  const old = new Date(Date.now() - 30 * 86_400_000)
  for (const s of [s1, s2, s3, s4]) await utimes(join(dir, 'spool', s), old, old)
  // Opt-outs fail for good in this run (exit 75 with tries exhausted): s3 keeps unprocessed records.
  const failing = join(dir, 'fail.sh')
  await writeFile(failing, 'exit 1\n')
  const code = await runProcessCommand(processorOptions(dir, {
    routes: [parseRoute('delivery=file:' + join(dir, 'd.ndjson')), parseRoute(`optout=exec:sh ${failing}`)],
    tries: 1,
  }), silentLogger(), noSignals)
  assert.equal(code, EXIT_TEMPFAIL)
  assert.deepEqual((await readdir(join(dir, 'spool'))).sort(), [s3, s4])
  // Now everything passes: all old segments go, but the newest stays.
  await writeFile(failing, 'exit 0\n')
  assert.equal(await runProcessCommand(processorOptions(dir, {
    routes: [parseRoute('delivery=file:' + join(dir, 'd.ndjson')), parseRoute(`optout=exec:sh ${failing}`)],
  }), silentLogger(), noSignals), 0)
  assert.deepEqual(await readdir(join(dir, 'spool')), [s4])
  // A young segment is kept even when processed.
  const s5 = await writeSegment(dir, 5, lines([deliveryRecord(5)]))
  await writeSegment(dir, 6, '')
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  assert.ok((await readdir(join(dir, 'spool'))).includes(s5))
})

test('re-queue files are dispatched first, then deleted', async (t) => {
  const dir = await tempDir(t)
  const spooled = deliveryRecord(1)
  await writeSegment(dir, 1, lines([spooled]))
  const requeued = recordWithFields({ stop_date: '2020-11-04 11:11:45', number: '0033600000000' })
  await mkdir(join(dir, 'requeue'), { recursive: true })
  await writeFile(join(dir, 'requeue', '0001.ndjson'), encodeRecord(requeued) + 'garbage\n')
  assert.equal(await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=file:${join(dir, 'all.ndjson')}`)] }), silentLogger(), noSignals), 0)
  const all = await readNdjson(join(dir, 'all.ndjson'))
  assert.deepEqual(all.map((r) => r.id), [requeued.id, spooled.id])
  assert.equal(all[0]!.number, '+33600000000')
  assert.deepEqual(await readdir(join(dir, 'requeue')), [])
  const dead = (await readNdjson(join(dir, 'dead', (await readdir(join(dir, 'dead')))[0]!)))
  assert.equal(dead[0]!.record, 'garbage')
})

test('the last record of a re-queue file without a final newline is dispatched, not lost', async (t) => {
  const dir = await tempDir(t)
  const first = recordWithFields({ stop_date: '2020-11-04 11:11:45', number: '+33600000001' })
  const last = recordWithFields({ stop_date: '2020-11-04 11:11:46', number: '+33600000002' })
  await mkdir(join(dir, 'requeue'), { recursive: true })
  // Written by hand or by a script: the file ends without '\n'.
  await writeFile(join(dir, 'requeue', '0001.ndjson'), encodeRecord(first) + encodeRecord(last).trimEnd())
  assert.equal(await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=file:${join(dir, 'all.ndjson')}`)] }), silentLogger(), noSignals), 0)
  const all = await readNdjson(join(dir, 'all.ndjson'))
  assert.deepEqual(all.map((r) => r.id), [first.id, last.id])
  assert.deepEqual(await readdir(join(dir, 'requeue')), [])
})

test('a retrying handler stops the pass before the record (exit 75), counts attempts per id, dead-letters at --max-attempts', async (t) => {
  const dir = await tempDir(t)
  const recs = [deliveryRecord(1), recordWithFields({ reception_date: '2020-11-04 11:11:45', text: 'hi' }), deliveryRecord(3)]
  const seg = await writeSegment(dir, 1, lines(recs))
  const offsetOfSecond = Buffer.byteLength(lines([recs[0]!]))
  const flaky = join(dir, 'flaky.sh')
  await writeFile(flaky, 'echo down >&2; exit 3\n')
  const options = processorOptions(dir, {
    routes: [parseRoute(`delivery=file:${join(dir, 'd.ndjson')}`), parseRoute(`reply=exec:sh ${flaky}`)],
    maxAttempts: 3,
    tries: 2,
    // One at a time: nothing after the failing record is started (test/e2e/process.concurrency.test.ts covers the rest).
    concurrency: 1,
  })
  for (let pass = 1; pass <= 2; pass++) {
    assert.equal(await runProcessCommand(options, silentLogger(), noSignals), EXIT_TEMPFAIL)
    assert.deepEqual(await loadCheckpoint(dataLayout(dir)).then((c) => [c?.segment, c?.offset]), [seg, offsetOfSecond])
    const attempts = JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8'))
    assert.equal(attempts[recs[1]!.id].attempts, pass)
    assert.match(attempts[recs[1]!.id].last_error, /exit 3: down/)
  }
  assert.deepEqual((await readNdjson(join(dir, 'd.ndjson'))).map((r) => r.id), [recs[0]!.id], 'the record after the failing one waits')
  // Third failing pass: dead-lettered, and the stream moves on.
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  assert.deepEqual((await readNdjson(join(dir, 'd.ndjson'))).map((r) => r.id), [recs[0]!.id, recs[2]!.id])
  const dead = await readNdjson(join(dir, 'dead', (await readdir(join(dir, 'dead')))[0]!))
  assert.equal(dead.length, 1)
  assert.deepEqual(dead[0]!.record, JSON.parse(encodeRecord(recs[1]!)))
  assert.equal(dead[0]!.kind, 'reply')
  assert.equal(dead[0]!.target, `exec:sh ${flaky}`)
  assert.equal(dead[0]!.attempts, 3)
  assert.match(dead[0]!.error as string, /exit 3/)
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')), {})
})

test('a failure that heals within the pass is retried with back-off and clears the attempt count', async (t) => {
  const dir = await tempDir(t)
  const rec = deliveryRecord(1)
  await writeSegment(dir, 1, lines([rec]))
  const counter = join(dir, 'count')
  const heals = join(dir, 'heals.sh')
  // Fails on the first call, succeeds on the second.
  await writeFile(heals, `n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; [ $n -ge 2 ]\n`)
  await mkdir(join(dir, 'state'), { recursive: true })
  await writeFile(join(dir, 'state', 'attempts.json'), JSON.stringify({ [rec.id]: { attempts: 1, last_error: 'x', last_failed_at: '' } }))
  assert.equal(await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=exec:sh ${heals}`)], tries: 3 }), silentLogger(), noSignals), 0)
  assert.equal((await readFile(counter, 'utf8')).trim(), '2')
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')), {})
})

test('metrics file: the pass figures in the Prometheus text format', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1), deliveryRecord(2)]) + 'bad\n')
  const metricsFile = join(dir, 'callback_spool.prom')
  assert.equal(await runProcessCommand(processorOptions(dir, { metricsFile }), silentLogger(), noSignals), 0)
  const text = await readFile(metricsFile, 'utf8')
  assert.match(text, /^callback_spool_process_records\{kind="delivery",outcome="done"\} 2$/m)
  assert.match(text, /^callback_spool_process_invalid_lines 1$/m)
  assert.match(text, /^callback_spool_process_last_pass_success 1$/m)
  assert.match(text, /^# TYPE callback_spool_process_lag_records gauge$/m)
})

test('SIGTERM during a pass: the record in hand is finished, the checkpoint saved, exit 0', async (t) => {
  const dir = await tempDir(t)
  const recs = Array.from({ length: 20 }, (_, i) => deliveryRecord(i))
  await writeSegment(dir, 1, lines(recs))
  const seen = join(dir, 'seen')
  let stop: ((s: NodeJS.Signals) => void) | undefined
  const running = runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=exec:cat >/dev/null; echo $CALLBACK_ID >> ${seen}; sleep 0.05`)] }),
    silentLogger(), (handler) => { stop = handler })
  // Once the pass has its signal handler and a first record is done (a fixed wait was too short on a loaded machine).
  await waitFor('the handler installed and a first record done', () => stop !== undefined && existsSync(seen), 30_000, 20)
  stop!('SIGTERM')
  assert.equal(await running, 0)
  const ids = (await readFile(seen, 'utf8')).trim().split('\n')
  assert.ok(ids.length > 0 && ids.length < recs.length, `stopped mid-pass (${ids.length})`)
  assert.deepEqual(ids, recs.slice(0, ids.length).map((r) => r.id))
  const cp = await loadCheckpoint(dataLayout(dir))
  assert.equal(cp?.offset, Buffer.byteLength(lines(recs.slice(0, ids.length))))
})

test('options are checked before anything runs: bad --on, time zone, schedule', async (t) => {
  const dir = await tempDir(t)
  assert.throws(() => parseRoute('sometimes=file:x'), { code: 'SPOOL_ERR_CONFIG' })
  assert.throws(() => parseRoute('delivery=ftp://x'), { code: 'SPOOL_ERR_CONFIG' })
  assert.throws(() => parseRoute('delivery'), { code: 'SPOOL_ERR_CONFIG' })
  assert.deepEqual(parseRoute('*=exec:echo a=b'), { kind: '*', target: 'exec:echo a=b' })
  await assert.rejects(Processor.create(processorOptions(dir, { providerTz: 'Nowhere/Land' }), dataLayout(dir), silentLogger()), { code: 'SPOOL_ERR_CONFIG' })
  await assert.rejects(runProcessCommand({ ...processorOptions(dir), schedule: 'every minute' }, silentLogger(), noSignals), { code: 'SPOOL_ERR_CONFIG', exitCode: 78 })
  await assert.rejects(runProcessCommand({ ...processorOptions(dir), routes: [parseRoute(`*=module:${join(dir, 'missing.js')}`)] }, silentLogger(), noSignals), { code: 'SPOOL_ERR_CONFIG' })
})

test('an output that cannot be written stops the pass with exit 75 and the checkpoint before those records', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1), deliveryRecord(2)]))
  // A directory where the output file should be: every write fails.
  const out = join(dir, 'out-is-a-dir')
  await mkdir(out)
  const { logger, lines: logged } = capturingLogger()
  assert.equal(await runProcessCommand(processorOptions(dir, { routes: [parseRoute(`*=file:${out}`)] }), logger, noSignals), EXIT_TEMPFAIL)
  assert.equal(await loadCheckpoint(dataLayout(dir)), undefined)
  assert.ok(logged.some((l) => /pass failed/.test(l.msg as string)))
  const pass = logged.find((l) => l.records_read !== undefined)!
  assert.equal(pass.outcome, 'retry_later')
  assert.equal(pass.lag_records, 2)
})
