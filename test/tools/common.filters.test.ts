/** The operator tools in process: createProgram() with an explicit argv, output captured. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CommanderError } from 'commander'
import { tempDir } from '../helpers/tmp.js'
import { silentLogger } from '../helpers/logger.js'
import { deliveryRecord, lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { readNdjson } from '../helpers/ndjson.js'
import { captureIO, runTool, toolProgram } from '../helpers/tool-io.js'
import { encodeRecord, type SpoolRecord } from '../../src/record.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { processOptionsFrom } from '../../src/processor/options.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { tryAcquireLock } from '../../src/spool/lock.js'
import { parseTimeArg } from '../../src/tools/common.js'
import { useColour } from '../../src/tools/record-filter.js'
import { dataLayout } from '../../src/spool/layout.js'

const HOUR = 3_600_000

function optout (number: string, at: Date): SpoolRecord {
  return recordWithFields({ message_id: `m-${number}`, number, text: 'STOP', stop_date: '2020-11-04 11:11:45' }, at)
}

function reply (number: string, text: string, at: Date): SpoolRecord {
  return recordWithFields({ message_id: `r-${number}`, number, text, reception_date: '2020-11-04 11:11:45' }, at)
}

/** One record at a time, so that the dead letters are listed in spool order. */
async function processOnce (dir: string, on: string[] = []): Promise<number> {
  return await runProcessCommand({ ...processOptionsFrom({ dataDir: dir, providerTz: 'Europe/Paris', maxAttempts: '5', tries: '1', retryDelay: '1ms', handlerTimeout: '10s', concurrency: '1', batchSize: '100', retain: '7d', pollInterval: '250ms', retryPause: '5s' }), routes: on.map(parseRoute), progress: false }, silentLogger(), () => {})
}

test('parseTimeArg: ISO times and durations ago; a bare number or nonsense is a config error', () => {
  const now = Date.parse('2026-11-27T12:00:00Z')
  assert.equal(parseTimeArg('--since', '2h', now), now - 2 * HOUR)
  assert.equal(parseTimeArg('--since', '1h30m', now), now - 1.5 * HOUR)
  assert.equal(parseTimeArg('--since', '2026-11-27T10:00:00Z', now), Date.parse('2026-11-27T10:00:00Z'))
  for (const bad of ['2026', 'yesterday', '', '2 h']) assert.throws(() => parseTimeArg('--since', bad, now), { code: 'SPOOL_ERR_CONFIG', exitCode: 78 })
})

test('colours only on a terminal without NO_COLOR', () => {
  assert.equal(useColour(true, {}), true)
  assert.equal(useColour(false, {}), false)
  assert.equal(useColour(true, { NO_COLOR: '1' }), false)
})

test('cat: every record in write order as the spooled NDJSON; filters by kind, time, grep and message id; --pretty', async (t) => {
  const dir = await tempDir(t)
  const now = Date.now()
  const a = optout('+33600000001', new Date(now - 3 * HOUR))
  const b = deliveryRecord(2, new Date(now - 2 * HOUR))
  const c = reply('+33600000001', 'Oui merci', new Date(now - HOUR))
  await writeSegment(dir, 1, lines([a, b]))
  await writeSegment(dir, 2, lines([c]) + 'not a record\n')

  const allIO = captureIO()
  const all = await runTool(['cat', '--data-dir', dir], allIO)
  assert.equal(all.code, 0)
  assert.equal(all.out, lines([a, b, c]), 'the raw lines, in order; the invalid one skipped')
  assert.deepEqual(allIO.warnings, ['cat: 1 invalid line(s) skipped; run `callback-spool verify` to see where'])

  const ids = async (args: string[]): Promise<string[]> =>
    (await runTool(['cat', '--data-dir', dir, ...args])).out.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as SpoolRecord).id)
  assert.deepEqual(await ids(['--kind', 'optout']), [a.id])
  assert.deepEqual(await ids(['--kind', 'reply,delivery']), [b.id, c.id])
  assert.deepEqual(await ids(['--since', '150m']), [b.id, c.id])
  assert.deepEqual(await ids(['--until', '150m']), [a.id])
  assert.deepEqual(await ids(['--since', new Date(now - 2.5 * HOUR).toISOString(), '--until', '90m']), [b.id])
  assert.deepEqual(await ids(['--grep', 'number=\\+33600000001']), [a.id, c.id])
  assert.deepEqual(await ids(['--grep', 'oui', '-i']), [c.id])
  assert.deepEqual(await ids(['--grep', 'oui']), [])
  assert.deepEqual(await ids(['--message-id', 'sms_2']), [b.id])

  const pretty = (await runTool(['cat', '--data-dir', dir, '--pretty'])).out.split('\n').filter(Boolean)
  assert.equal(pretty.length, 3)
  assert.match(pretty[0]!, new RegExp(`^${a.received_at}\\s+optout\\s+\\+33600000001\\s+STOP\\s+m-\\+33600000001$`))
  assert.match(pretty[1]!, /delivery\s+\+33600112233\s+DELIVERED/)
  assert.match(pretty[2]!, /reply\s+\+33600000001\s+Oui merci/)
  assert.ok(!pretty.join('').includes('\x1b['), 'no colours off a terminal')
  const tty = captureIO({ stdoutIsTTY: true })
  const prev = process.env.NO_COLOR
  delete process.env.NO_COLOR
  t.after(() => { if (prev !== undefined) process.env.NO_COLOR = prev })
  await runTool(['cat', '--data-dir', dir, '--pretty', '--kind', 'optout'], tty)
  assert.ok(tty.out().includes('\x1b[31moptout'), tty.out())

  await assert.rejects(runTool(['cat', '--data-dir', dir, '--kind', 'sms']), { code: 'SPOOL_ERR_CONFIG', exitCode: 78 })
  await assert.rejects(runTool(['cat', '--data-dir', dir, '--grep', '(']), { code: 'SPOOL_ERR_CONFIG' })
})

test('cat --follow: new records in the segment and in a new one, until the signal', async (t) => {
  const dir = await tempDir(t)
  const first = deliveryRecord(1)
  await writeSegment(dir, 1, lines([first]))
  const io = captureIO()
  const { program } = toolProgram(io)
  const running = program.parseAsync(['cat', '--data-dir', dir, '--follow', '--poll-interval', '50ms'], { from: 'user' })
  const waitLines = async (n: number): Promise<void> => {
    const until = Date.now() + 10_000
    while (io.out().split('\n').filter(Boolean).length < n) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${n} lines: ${io.out()}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  await waitLines(1)
  const second = deliveryRecord(2)
  await writeFile(join(dir, 'spool', (await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.ndjson'))[0]!), lines([first, second]))
  await waitLines(2)
  const third = deliveryRecord(3)
  await writeSegment(dir, 2, lines([third]))
  await waitLines(3)
  io.signal()
  await running
  assert.equal(io.out(), lines([first, second, third]))
})

test('verify: sound spool exits 0; an invalid line and a torn one are reported with segment, line and offset; a bad checkpoint too', async (t) => {
  const dir = await tempDir(t)
  const r1 = deliveryRecord(1)
  const r2 = deliveryRecord(2)
  const seg1 = await writeSegment(dir, 1, lines([r1, r2]))
  const seg2 = await writeSegment(dir, 2, lines([deliveryRecord(3)]))
  const sound = await runTool(['verify', '--data-dir', dir])
  assert.equal(sound.code, 0, sound.out)
  assert.match(sound.out, /^sound: 2 segment\(s\), 3 record\(s\)/)

  // Segment 1: a line that is JSON but not a record, then a torn tail (segment 1 is sealed).
  const bad = JSON.stringify({ v: 2, id: 'x' })
  await writeFile(join(dir, 'spool', seg1), lines([r1, r2]) + bad + '\n' + '{"v":1,"id":"01')
  const badOffset = Buffer.byteLength(lines([r1, r2]))
  const report = await runTool(['verify', '--data-dir', dir])
  assert.equal(report.code, 1)
  assert.match(report.out, new RegExp(`PROBLEM  ${seg1} line 3 \\(byte ${badOffset}\\): invalid line: unsupported record version 2`))
  assert.match(report.out, new RegExp(`PROBLEM  ${seg1} line 4 \\(byte ${badOffset + bad.length + 1}\\): torn line`))
  assert.match(report.out, /NOT SOUND: 2 problem/)
  const json = JSON.parse((await runTool(['verify', '--data-dir', dir, '--json'])).out) as { sound: boolean, findings: Array<{ kind: string, segment: string, line: number, offset: number }> }
  assert.equal(json.sound, false)
  assert.deepEqual(json.findings.map((f) => [f.kind, f.segment, f.line, f.offset]), [['invalid', seg1, 3, badOffset], ['torn', seg1, 4, badOffset + bad.length + 1]])

  // The newest segment's unterminated tail: torn when no receiver runs, a note while one does.
  await writeFile(join(dir, 'spool', seg1), lines([r1, r2]))
  await writeFile(join(dir, 'spool', seg2), lines([deliveryRecord(3)]) + '{"v":1')
  const noReceiver = await runTool(['verify', '--data-dir', dir])
  assert.equal(noReceiver.code, 1)
  assert.match(noReceiver.out, new RegExp(`PROBLEM  ${seg2} line 2 .*no receiver is running`))
  const lock = await tryAcquireLock(dataLayout(dir), 'receiver')
  assert.ok(lock)
  t.after(() => lock.release())
  const receiving = await runTool(['verify', '--data-dir', dir])
  assert.equal(receiving.code, 0, receiving.out)
  assert.match(receiving.out, new RegExp(`note  ${seg2} line 2 .*write in progress`))
  await lock.release()

  await writeFile(join(dir, 'spool', seg2), lines([deliveryRecord(3)]))
  await mkdir(join(dir, 'state'), { recursive: true })
  await writeFile(join(dir, 'state', 'checkpoint.json'), JSON.stringify({ segment: seg1, offset: 5 }))
  const checkpoint = await runTool(['verify', '--data-dir', dir])
  assert.equal(checkpoint.code, 1)
  assert.match(checkpoint.out, /PROBLEM {2}checkpoint: .*not at the start of a line/)
})

test('replay: needs one target; --yes off a terminal; asks on a terminal; counts; never moves forward; refused while a processor runs', async (t) => {
  const dir = await tempDir(t)
  const now = Date.now()
  const recs = [0, 1, 2, 3].map((i) => deliveryRecord(i, new Date(now - (4 - i) * HOUR)))
  const seg1 = await writeSegment(dir, 1, lines(recs.slice(0, 2)))
  const seg2 = await writeSegment(dir, 2, lines(recs.slice(2)))
  await assert.rejects(runTool(['replay', '--data-dir', dir]), { code: 'SPOOL_ERR_USAGE', exitCode: 64 })
  await assert.rejects(runTool(['replay', '--data-dir', dir, '--all', '--since', '1h']), { code: 'SPOOL_ERR_USAGE' })
  await assert.rejects(runTool(['replay', '--data-dir', dir, '--from', 'nonsense']), { code: 'SPOOL_ERR_USAGE' })

  const none = await runTool(['replay', '--data-dir', dir, '--all'])
  assert.match(none.out, /no checkpoint yet/)
  assert.equal(await processOnce(dir), 0)
  const end = { segment: seg2, offset: Buffer.byteLength(lines(recs.slice(2))) }
  const checkpointFile = join(dir, 'state', 'checkpoint.json')
  const saved = async (): Promise<{ segment: string, offset: number }> => JSON.parse(await readFile(checkpointFile, 'utf8'))
  assert.deepEqual({ ...(await saved()), updated_at: undefined }, { ...end, updated_at: undefined })

  await assert.rejects(runTool(['replay', '--data-dir', dir, '--all']), (err: { code: string, exitCode: number, message: string }) => {
    assert.equal(err.exitCode, 64)
    assert.match(err.message, /dispatches 4 record\(s\) again; pass --yes/)
    return true
  })
  const declined = captureIO({ stdinIsTTY: true, answer: false })
  await assert.rejects(runTool(['replay', '--data-dir', dir, '--since', '150m'], declined), { code: 'SPOOL_ERR_CANCELLED' })
  assert.match(declined.questions[0]!, new RegExp(`back to ${seg2}:0: the next pass dispatches 2 record\\(s\\) again`))
  assert.equal((await saved()).offset, end.offset, 'unchanged when declined')

  const accepted = captureIO({ stdinIsTTY: true, answer: true })
  const since = await runTool(['replay', '--data-dir', dir, '--since', '150m'], accepted)
  assert.match(since.out, /2 record\(s\) will be dispatched again/)
  assert.equal((await saved()).segment, seg2)
  assert.equal((await saved()).offset, 0)

  const forward = await runTool(['replay', '--data-dir', dir, '--from', `${seg2}:${Buffer.byteLength(encodeRecord(recs[2]!))}`, '--yes'])
  assert.match(forward.out, /nothing to replay: the checkpoint .* is already at or before/)
  assert.equal((await saved()).offset, 0)
  await assert.rejects(runTool(['replay', '--data-dir', dir, '--from', `${seg1}:3`, '--yes']), { code: 'SPOOL_ERR_CHECKPOINT_CORRUPT', exitCode: 78 })
  const from = await runTool(['replay', '--data-dir', dir, '--from', `${seg1}:${Buffer.byteLength(encodeRecord(recs[0]!))}`, '--yes'])
  assert.match(from.out, /: 1 record\(s\) will be dispatched again/)

  // A bad checkpoint is repaired by replay.
  await writeFile(checkpointFile, '{"segment":"nope"}')
  const repaired = await runTool(['replay', '--data-dir', dir, '--all', '--yes'])
  assert.match(repaired.out, /from a bad checkpoint to .*: 4 record/)

  const lock = await tryAcquireLock(dataLayout(dir), 'processor')
  assert.ok(lock)
  t.after(() => lock.release())
  await assert.rejects(runTool(['replay', '--data-dir', dir, '--all', '--yes']), (err: { code: string, exitCode: number, message: string }) => {
    assert.equal(err.exitCode, 75)
    assert.match(err.message, /a processor is running .* stop it before you replay/)
    return true
  })
})

test('dead list, retry (records re-queued, invalid lines kept), purge; status counts them', async (t) => {
  const dir = await tempDir(t)
  const good = deliveryRecord(1)
  const refused = optout('+33600000009', new Date())
  await writeSegment(dir, 1, lines([good, refused]) + 'garbage\n')
  assert.equal(await processOnce(dir, ['optout=exec:exit 65', 'delivery=file:' + join(dir, 'd.ndjson')]), 0)

  const list = await runTool(['dead', 'list', '--data-dir', dir])
  const rows = list.out.split('\n').filter(Boolean)
  assert.equal(rows.length, 2)
  assert.match(rows[0]!, new RegExp(`optout\\s+\\+336\\*{5}009\\s+${refused.id}\\s+exec:exit 65\\s+exit 65.*attempts=1$`))
  assert.match(rows[1]!, /invalid\s+-\s+000000000001-.*\.ndjson:\d+\s+-\s+invalid JSON/)
  const json = (await runTool(['dead', 'list', '--data-dir', dir, '--json'])).out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)
  assert.deepEqual(json.map((l) => l.kind), ['optout', null])
  assert.equal(typeof json[0]!.file, 'string')

  const status = JSON.parse((await runTool(['status', '--data-dir', dir, '--json'])).out) as Record<string, unknown>
  assert.equal(status.dead_letters, 2)

  await assert.rejects(runTool(['dead', 'retry', '--data-dir', dir, '--id', 'no-such-id']), { code: 'SPOOL_ERR_NOT_FOUND', exitCode: 1 })
  const retry = await runTool(['dead', 'retry', '--data-dir', dir])
  assert.match(retry.out, /1 record\(s\) re-queued in .*requeue.*; the next pass/)
  assert.match(retry.out, /1 dead letter\(s\) of invalid spool lines skipped and kept/)
  const requeued = await readdir(join(dir, 'requeue'))
  assert.equal(requeued.length, 1)
  assert.deepEqual(await readNdjson(join(dir, 'requeue', requeued[0]!)), [JSON.parse(JSON.stringify(refused))])
  const left = (await runTool(['dead', 'list', '--data-dir', dir, '--json'])).out.split('\n').filter(Boolean)
  assert.equal(left.length, 1)
  assert.equal((JSON.parse(left[0]!) as { kind: unknown }).kind, null)
  // The next pass dispatches it, to a handler that now takes it.
  assert.equal(await processOnce(dir, ['optout=file:' + join(dir, 'o.ndjson'), 'delivery=file:' + join(dir, 'd.ndjson')]), 0)
  assert.deepEqual((await readNdjson(join(dir, 'o.ndjson'))).map((r) => r.id), [refused.id])
  assert.deepEqual(await readdir(join(dir, 'requeue')), [])

  const notYet = await runTool(['dead', 'purge', '--data-dir', dir, '--before', '1h', '--yes'])
  assert.match(notYet.out, /^0 dead letter\(s\) purged/)
  const purged = await runTool(['dead', 'purge', '--data-dir', dir, '--before', new Date(Date.now() + 1000).toISOString(), '--yes'])
  assert.match(purged.out, /^1 dead letter\(s\) purged/)
  assert.deepEqual(await readdir(join(dir, 'dead')), [], 'an emptied file is removed')
  assert.equal((await runTool(['dead', 'list', '--data-dir', dir])).out, 'no dead letters\n')
  await assert.rejects(runTool(['dead', 'purge', '--data-dir', dir]), (err: unknown) => err instanceof CommanderError && err.code === 'commander.missingMandatoryOptionValue')
})

test('status --json: segments, holders, checkpoint, backlog, last pass, counts, free disk', async (t) => {
  const dir = await tempDir(t)
  const old = new Date(Date.now() - HOUR)
  const seg1 = await writeSegment(dir, 1, lines([deliveryRecord(1, old), deliveryRecord(2, old)]))
  assert.equal(await processOnce(dir), 0)
  const later = deliveryRecord(3, new Date(Date.now() - 60_000))
  const seg2 = await writeSegment(dir, 2, lines([later, deliveryRecord(4)]))
  await mkdir(join(dir, 'quarantine'), { recursive: true })
  await writeFile(join(dir, 'quarantine', `${seg1}@10.fragment`), 'x')
  const lock = await tryAcquireLock(dataLayout(dir), 'receiver')
  assert.ok(lock)
  t.after(() => lock.release())

  const { code, out } = await runTool(['status', '--data-dir', dir, '--json'])
  assert.equal(code, 0)
  const s = JSON.parse(out)
  assert.equal(s.segments.count, 2)
  assert.equal(s.segments.oldest.name, seg1)
  assert.equal(s.segments.newest.name, seg2)
  assert.equal(s.segments.bytes, Buffer.byteLength(lines([deliveryRecord(1, old), deliveryRecord(2, old)])) + Buffer.byteLength(lines([later, deliveryRecord(4)])))
  assert.equal(s.receiver.running, true)
  assert.equal(s.receiver.pid, process.pid)
  assert.equal(s.processor.running, false)
  assert.equal(s.checkpoint.segment, seg1)
  assert.equal(s.checkpoint.valid, true)
  assert.equal(s.backlog.records, 2)
  assert.equal(s.backlog.bytes, Buffer.byteLength(lines([later, deliveryRecord(4)])))
  assert.equal(s.backlog.oldest_received_at, later.received_at)
  assert.ok(s.backlog.oldest_age_seconds >= 59 && s.backlog.oldest_age_seconds < 600, String(s.backlog.oldest_age_seconds))
  assert.equal(s.last_pass.outcome, 'done')
  assert.equal(s.last_pass.figures.records_read, 2)
  assert.equal(s.quarantined, 1)
  assert.equal(s.dead_letters, 0)
  assert.ok(s.disk_free_bytes > 0)

  const human = (await runTool(['status', '--data-dir', dir])).out
  assert.match(human, /receiver\s+running, pid \d+/)
  assert.match(human, /backlog\s+2 record\(s\), .* oldest received 1 min ago/)
  assert.match(human, /last pass\s+done .*: 2 read/)
  assert.ok(human.split('\n').length <= 14, 'short enough to read at a glance')

  await assert.rejects(runTool(['status', '--data-dir', join(dir, 'missing')]), { code: 'SPOOL_ERR_NO_DATA_DIR', exitCode: 66 })
  // Nor do verify and cat call a missing data dir sound or empty.
  await assert.rejects(runTool(['verify', '--data-dir', join(dir, 'missing')]), { code: 'SPOOL_ERR_NO_DATA_DIR', exitCode: 66 })
  await assert.rejects(runTool(['cat', '--data-dir', join(dir, 'missing')]), { code: 'SPOOL_ERR_NO_DATA_DIR', exitCode: 66 })
})

test('each tool has --help with an example; --data-dir comes from the environment; switches never from env or config', async (t) => {
  for (const argv of [['status'], ['cat'], ['verify'], ['replay'], ['dead'], ['dead', 'list'], ['dead', 'retry'], ['dead', 'purge']]) {
    const io = captureIO()
    const { program, usage } = toolProgram(io)
    await assert.rejects(program.parseAsync([...argv, '--help'], { from: 'user' }), { code: 'commander.helpDisplayed' })
    assert.match(usage(), /Example/, argv.join(' '))
  }
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  process.env.CALLBACK_SPOOL_DATA_DIR = dir
  process.env.CALLBACK_SPOOL_FOLLOW = '1'
  t.after(() => { delete process.env.CALLBACK_SPOOL_DATA_DIR; delete process.env.CALLBACK_SPOOL_FOLLOW })
  // Without --follow from the environment, cat ends.
  const out = await runTool(['cat'])
  assert.equal(out.out.split('\n').filter(Boolean).length, 1)
  const config = join(dir, 'config.json')
  await writeFile(config, JSON.stringify({ yes: true }))
  await assert.rejects(runTool(['--config', config, 'status']), (err: { code: string, message: string }) => {
    assert.equal(err.code, 'SPOOL_ERR_CONFIG')
    assert.match(err.message, /unknown key `yes`/)
    return true
  })
})

test('replay counts records and invalid lines apart; tools that take the lock refuse a missing data dir (66) rather than create it', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]) + 'garbage\n' + lines([deliveryRecord(2)]))
  assert.equal(await processOnce(dir), 0)
  const replay = await runTool(['replay', '--data-dir', dir, '--all', '--yes'])
  assert.match(replay.out, /: 2 record\(s\) will be dispatched again by the next pass \(and 1 invalid line\(s\), dead-lettered again\)/)
  const missing = join(dir, 'nowhere')
  for (const argv of [['replay', '--all', '--yes'], ['dead', 'retry'], ['dead', 'purge', '--before', '1d', '--yes']]) {
    await assert.rejects(runTool([...argv, '--data-dir', missing]), { code: 'SPOOL_ERR_NO_DATA_DIR', exitCode: 66 }, argv.join(' '))
  }
  await assert.rejects(readdir(missing), { code: 'ENOENT' })
})
