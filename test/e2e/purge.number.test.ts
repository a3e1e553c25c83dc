import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { pino } from 'pino'
import { encodeRequest } from '../../src/receiver/build-record.js'
import { startReceiver, RECEIVE_DEFAULTS } from '../../src/receiver/run.js'
import { acquireLock } from '../../src/spool/lock.js'
import { dataLayout, segmentName } from '../../src/spool/layout.js'
import { runProcessCommand } from '../../src/processor/run.js'
import { textMentionsNumber } from '../../src/tools/number-spellings.js'
import { normalizeNumber, purgeNumber } from '../../src/tools/purge-number.js'
import { processorOptions } from '../helpers/processor.js'
import { silentLogger } from '../helpers/logger.js'
import { tempDir } from '../helpers/tmp.js'

const TARGET = '+33600112233'
const OTHER = '+33700998877'

const line = (body: string, url = '/'): string =>
  encodeRequest({ method: 'POST', url, remoteAddr: '127.0.0.1', headers: {}, body: Buffer.from(body) })

async function tempDataDir (t: TestContext): Promise<string> {
  const dir = await tempDir(t)
  for (const sub of ['spool', 'state', 'dead', 'out', 'quarantine', 'requeue']) await mkdir(join(dir, sub), { mode: 0o750 })
  return dir
}

test('normalizeNumber; textMentionsNumber finds every spelling of the number, and only it', () => {
  assert.equal(normalizeNumber('0033600112233'), TARGET)
  assert.equal(normalizeNumber(' 33600112233'), TARGET)
  assert.equal(normalizeNumber(TARGET), TARGET)
  const digits = TARGET.slice(1)
  const b64 = Buffer.from('{"number":"+33 6 00 11 22 33",\xff', 'latin1').toString('base64')
  for (const text of ['+33600112233', '0033600112233', '33600112233', '+33 6 00 11 22 33', '+33-600-112-233', '+33.6.00.11.22.33',
    '+33 (0)6 00 11 22 33', 'x=%2B33%206%2000%2011%2022%2033', 'number=%2B33+6+00+11+22+33', 'text=call%2033600112233', 'tel%3A%2B33600112233', 'call me: 33 600 112 233!',
    '{"to":33600112233}', '"text":"a\\n+33 6 00\\n11 22 33"', `{"body_base64":"${b64}"}`, `{"record":"{\\"body_base64\\":\\"${b64.slice(0, 40)}`]) {
    assert.equal(textMentionsNumber(text, digits), true, text)
  }
  for (const text of ['+33700998877', '+336001122334', '1233600112233', '3360011223', '+33 6 00 11 22 3', '2026-11-27 10:00:00', '']) {
    assert.equal(textMentionsNumber(text, digits), false, text)
  }
})

test('purge removes every record of one number from sealed segments, re-queue, dead letters, outputs and quarantine', async (t) => {
  const dir = await tempDataDir(t)
  const seg1 = segmentName(1, new Date('2026-11-27T10:00:00Z'))
  const seg2 = segmentName(2, new Date('2026-11-27T11:00:00Z'))
  const keepA = line(`number=${encodeURIComponent(OTHER)}&text=keep+A`)
  const dropJson = line(JSON.stringify({ number: TARGET, text: 'erase me' }))
  // Another number's record that names this one in its text is about this person too.
  const dropMention = line(JSON.stringify({ number: OTHER, text: `mentions ${TARGET} in the text only` }))
  const dropLegacy = line('number=0033600112233&text=erase+me+too')
  const dropSpace = line('text=hi', '/cb?number=+33600112233')
  const keepC = line('{"broken json but kept')
  const seg1Text = keepA + dropJson + dropMention + dropLegacy + keepC
  await writeFile(join(dir, 'spool', seg1), seg1Text, { mode: 0o640 })
  await writeFile(join(dir, 'spool', seg2), dropSpace + keepA + 'torn tail without newline', { mode: 0o640 })
  // The processor has read up to the start of dropMention in seg1: two lines before it, one of them erased.
  const checkpointOffset = keepA.length + dropJson.length
  await writeFile(join(dir, 'state', 'checkpoint.json'), JSON.stringify({ segment: seg1, offset: checkpointOffset, updated_at: 'x' }))
  const dead = (record: string, kind: string) => JSON.stringify({ record: JSON.parse(record), kind, target: 'file', error: 'boom', attempts: 5, failed_at: '2026-11-27T12:00:00Z' }) + '\n'
  await writeFile(join(dir, 'dead', 'dead-1.ndjson'), dead(dropJson, 'delivery') + dead(keepA, 'reply'))
  await writeFile(join(dir, 'out', 'optout.ndjson'), JSON.stringify({ number: TARGET, kind: 'optout' }) + '\n' + JSON.stringify({ number: OTHER, kind: 'optout' }) + '\n')
  await writeFile(join(dir, 'out', 'delivery.ndjson'), JSON.stringify({ number: OTHER, status: 'DELIVERED' }) + '\n')
  await writeFile(join(dir, 'requeue', 'r-1.ndjson'), dropLegacy + keepA)
  await writeFile(join(dir, 'quarantine', `${seg1}@100.fragment`), '{"number":"0033600112233","te')
  await writeFile(join(dir, 'quarantine', `${seg1}@200.fragment`), '{"number":"+33700998877","te')

  const dry = await purgeNumber(dataLayout(dir), '0033 6 00 11 22 33', { dryRun: true })
  assert.equal(dry.spool.removed, 4)
  assert.equal(await readFile(join(dir, 'spool', seg1), 'utf8'), seg1Text, 'a dry run changes nothing')

  const report = await purgeNumber(dataLayout(dir), '0033600112233')
  assert.deepEqual(report.spool, { files: 2, filesChanged: 2, removed: 4 })
  assert.deepEqual(report.requeue, { files: 1, filesChanged: 1, removed: 1 })
  assert.deepEqual(report.dead, { files: 1, filesChanged: 1, removed: 1 })
  assert.deepEqual(report.out, { files: 2, filesChanged: 1, removed: 1 })
  assert.deepEqual(report.quarantine, { files: 2, filesChanged: 1, removed: 1 })
  assert.equal(report.checkpointMoved, true)

  // What stays is byte for byte what was there; torn tails and unparsable lines without the number are kept.
  const newSeg1 = await readFile(join(dir, 'spool', seg1), 'utf8')
  assert.equal(newSeg1, keepA + keepC)
  assert.equal(await readFile(join(dir, 'spool', seg2), 'utf8'), keepA + 'torn tail without newline')
  assert.equal(await readFile(join(dir, 'requeue', 'r-1.ndjson'), 'utf8'), keepA)
  const checkpoint = JSON.parse(await readFile(join(dir, 'state', 'checkpoint.json'), 'utf8')) as { offset: number }
  assert.equal(checkpoint.offset, keepA.length)
  assert.ok(newSeg1.slice(checkpoint.offset).startsWith(keepC), 'the checkpoint points at the next unread line left')
  assert.equal(await readFile(join(dir, 'out', 'delivery.ndjson'), 'utf8'), JSON.stringify({ number: OTHER, status: 'DELIVERED' }) + '\n')
  assert.deepEqual(await readdir(join(dir, 'quarantine')), [`${seg1}@200.fragment`])
  // No trace of the number anywhere, in any form, and no temp file left.
  for (const sub of ['spool', 'dead', 'out', 'requeue', 'quarantine']) {
    for (const name of await readdir(join(dir, sub))) {
      assert.equal(name.includes('.tmp'), false)
      const text = await readFile(join(dir, sub, name), 'utf8')
      assert.equal(textMentionsNumber(text, TARGET.slice(1)), false, `${sub}/${name}`)
      assert.equal(/"(\+|00| )33600112233"/.test(text), false, `${sub}/${name}`)
    }
  }
  // Rewritten files are 0640 whatever they were before (the test wrote them 0644 or so).
  for (const path of [join('spool', seg1), join('spool', seg2), join('dead', 'dead-1.ndjson'), join('out', 'optout.ndjson'), join('requeue', 'r-1.ndjson')]) {
    assert.equal((await stat(join(dir, path))).mode & 0o777, 0o640, path)
  }
  // Nothing left: a second purge removes nothing and touches nothing.
  const again = await purgeNumber(dataLayout(dir), TARGET)
  assert.equal(again.spool.removed + again.dead.removed + again.out.removed + again.requeue.removed + again.quarantine.removed, 0)
  assert.equal(again.checkpointMoved, false)
})

test('purge erases every spelling of the number from every place: raw bodies, invalid lines, torn tails, dead letters, outputs, quarantine, re-queue', async (t) => {
  const dir = await tempDataDir(t)
  const spellings = ['33600112233', '+33 6 00 11 22 33', '+33-600-112-233', '0033 600 112 233']
  const seg1 = segmentName(1, new Date('2026-11-27T10:00:00Z'))
  const seg2 = segmentName(2, new Date('2026-11-27T11:00:00Z'))
  const keep = [
    line(`number=${encodeURIComponent(OTHER)}&delivery_date=2026-11-27+10:00:00&status=DELIVERED`),
    line(JSON.stringify({ number: OTHER, ref: '1233600112233', reception_date: '2026-11-27 10:00:00', text: 'another +336001122334' })),
  ]
  const drop = [
    line(JSON.stringify({ to: '33600112233', status: 'DELIVERED', delivery_date: '2026-11-27 10:00:00' })),
    line('number=%2B33+6+00+11+22+33&stop_date=2026-11-27+10:00:00&text=STOP'),
    line(JSON.stringify({ number: '+33-600-112-233', reception_date: '2026-11-27 10:00:00', text: 'hi' })),
    // A JSON body that did not parse: the number is only in the raw body.
    line('{"number":"0033 600 112 233", "text": oops'),
    // Not UTF-8: the raw body is kept as base64 only.
    line(Buffer.concat([Buffer.from('{"number":"+33 6 00 11 22 33",'), Buffer.from([0xff])]).toString('latin1')),
    line('text=hi', '/cb/33600112233'),
  ]
  // An invalid line: the pass dead-letters it with the line as it was.
  const invalid = '{"v":1,"fields":{"number":"+33 6 00 11 22 33"} not a record\n'
  // A torn tail at the end of a sealed segment: a pass quarantines it (it was never acknowledged).
  const torn = '{"v":1,"id":"x","fields":{"number":"+33-600-112-233","te'
  await writeFile(join(dir, 'spool', seg1), keep[0] + drop.slice(0, 3).join('') + invalid + keep[1] + drop.slice(3).join('') + torn, { mode: 0o640 })
  await writeFile(join(dir, 'spool', seg2), keep[0]!, { mode: 0o640 })
  // A pass first, so that dead letters, outputs and the fragment are what the processor writes.
  assert.equal(await runProcessCommand(processorOptions(dir, { maxAttempts: 1, tries: 1 }), silentLogger(), () => {}), 0)
  assert.deepEqual((await readdir(join(dir, 'quarantine'))).length, 1, 'the pass quarantined the torn tail')
  const deadBefore = (await Promise.all((await readdir(join(dir, 'dead'))).map((n) => readFile(join(dir, 'dead', n), 'utf8')))).join('')
  assert.ok(deadBefore.includes('not a record'), 'the pass dead-lettered the invalid line')
  // Written by hand: the dead letter of a record whose JSON body did not parse, a line in an output
  // naming the number in its text, a re-queued record, another fragment.
  await writeFile(join(dir, 'dead', '2026-11-26.ndjson'), JSON.stringify({ record: JSON.parse(drop[3]!), kind: 'unknown', target: 'exec:x', error: 'exit 65', attempts: 1, failed_at: '2026-11-26T10:00:00Z' }) + '\n' +
    JSON.stringify({ record: JSON.parse(keep[1]!), kind: 'reply', target: 'exec:x', error: 'exit 65', attempts: 1, failed_at: '2026-11-26T10:00:00Z' }) + '\n')
  await writeFile(join(dir, 'out', 'notes.ndjson'), JSON.stringify({ text: 'call +33 6 00 11 22 33 back' }) + '\n' + JSON.stringify({ text: 'call +33 7 00 99 88 77 back' }) + '\n')
  await writeFile(join(dir, 'requeue', 'r-1.ndjson'), drop[1]! + keep[0]!)
  await writeFile(join(dir, 'quarantine', `${seg1}@1.fragment`), '{"number":"+33-600-112-233","te')

  const report = await purgeNumber(dataLayout(dir), '+33 6 00 11 22 33')
  assert.equal(report.spool.removed, drop.length + 2, 'every record, the invalid line and the torn tail')
  assert.equal(report.requeue.removed, 1)
  assert.equal(report.dead.removed, 2, "the invalid line's and the unparsed body's")
  assert.equal(report.quarantine.removed, 2)
  assert.equal(await readFile(join(dir, 'spool', seg1), 'utf8'), keep[0]! + keep[1]!)
  assert.equal(await readFile(join(dir, 'requeue', 'r-1.ndjson'), 'utf8'), keep[0])
  // No spelling left anywhere, by a check that does not use purge's own matching.
  for (const sub of ['spool', 'dead', 'out', 'requeue', 'quarantine', 'state']) {
    // Recursive: state/ holds the delivery log's folder.
    for (const name of await readdir(join(dir, sub), { recursive: true })) {
      if ((await stat(join(dir, sub, name))).isDirectory()) continue
      const bytes = await readFile(join(dir, sub, name))
      const texts = [bytes.toString('latin1'), decodeURIComponent(bytes.toString('latin1').replace(/%(?![0-9A-F]{2})/gi, '%25')).replace(/\+/g, ' ')]
      for (const m of bytes.toString('latin1').matchAll(/"body_base64\\?":\\?"([A-Za-z0-9+/=]+)/g)) texts.push(Buffer.from(m[1]!, 'base64').toString('latin1'))
      for (const text of texts) {
        // Not part of a longer run of digits: the other number's `1233600112233` is not this one.
        for (const s of spellings) assert.equal(new RegExp(`(?<!\\d)${s.replace(/[+]/g, '\\+')}(?!\\d)`).test(text), false, `${s} in ${sub}/${name}`)
      }
    }
  }
  const dead = (await Promise.all((await readdir(join(dir, 'dead'))).map((n) => readFile(join(dir, 'dead', n), 'utf8')))).join('')
  assert.ok(dead.includes('1233600112233'), "the other number's dead letter is kept")
  assert.deepEqual((await readFile(join(dir, 'out', 'notes.ndjson'), 'utf8')).trim().split('\n').length, 1)

  // The next pass finds no torn tail to quarantine again, and goes on from the moved checkpoint.
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), () => {}), 0)
  assert.deepEqual(await readdir(join(dir, 'quarantine')), [])
})

test('purge never rewrites the segment a running receiver writes to, and refuses while a processor runs', async (t) => {
  const dir = await tempDataDir(t)
  const sealed = segmentName(1, new Date('2026-11-27T10:00:00Z'))
  await writeFile(join(dir, 'spool', sealed), line(JSON.stringify({ number: TARGET })) + line(JSON.stringify({ number: OTHER })), { mode: 0o640 })
  const running = await startReceiver({ ...RECEIVE_DEFAULTS, host: '127.0.0.1', port: 0, dataDir: dir }, pino({ level: 'silent' }))
  t.after(() => running.stop())
  const active = running.writer.currentSegment!
  await running.writer.append(line(JSON.stringify({ number: TARGET, text: 'while running' })))
  const before = await readFile(join(dir, 'spool', active), 'utf8')

  const report = await purgeNumber(dataLayout(dir), TARGET)
  assert.equal(report.spool.skippedActiveSegment, active)
  assert.deepEqual({ files: report.spool.files, removed: report.spool.removed }, { files: 1, removed: 1 })
  assert.equal(await readFile(join(dir, 'spool', active), 'utf8'), before)
  const sealedAfter = await readFile(join(dir, 'spool', sealed), 'utf8')
  assert.equal(sealedAfter.includes(TARGET), false)
  assert.equal(sealedAfter.split('\n').length, 2, 'one record kept')
  assert.equal(sealedAfter.includes(OTHER), true)
  // The receiver still appends to its segment after the purge.
  const after = line('{"after":"purge"}')
  await running.writer.append(after)
  assert.equal(await readFile(join(dir, 'spool', active), 'utf8'), before + after)

  const processor = await acquireLock(dataLayout(dir), 'processor')
  t.after(() => processor.release())
  await assert.rejects(purgeNumber(dataLayout(dir), TARGET), { code: 'SPOOL_ERR_LOCKED' })
  await assert.rejects(purgeNumber(dataLayout(dir), 'not a number'), { code: 'SPOOL_ERR_USAGE' })
  await assert.rejects(purgeNumber(dataLayout(join(dir, 'no-such-dir')), TARGET), { code: 'SPOOL_ERR_NO_DATA_DIR', exitCode: 66 })
})

test('the real CLI: purge prints counts with the number masked', async (t) => {
  const dir = await tempDataDir(t)
  await writeFile(join(dir, 'spool', segmentName(1, new Date())), line(`number=${encodeURIComponent(TARGET)}`) + line('number=%2B33700998877'))
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/callback-spool.js', 'purge', '--number', '0033600112233', '--yes', '--data-dir', dir])
  assert.match(stdout, /^purge of \+336\*{5}233\n/)
  assert.match(stdout, /spool +removed 1 records from 1 of 1 files/)
  assert.equal(stdout.includes('33600112233'), false)
})

test('with the real processor: after a pass, purge cleans spool and outputs, and the next pass accepts the moved checkpoint', async (t) => {
  const dir = await tempDataDir(t)
  const seg = segmentName(1, new Date())
  const keep = line('number=%2B33700998877&delivery_date=2026-11-27+10:00:00&status=DELIVERED')
  await writeFile(join(dir, 'spool', seg), line('number=0033600112233&stop_date=2026-11-27+10:00:00&text=STOP') + keep +
    line(JSON.stringify({ number: TARGET, reception_date: '2026-11-27 10:00:00', text: 'hi' })))
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, ['bin/callback-spool.js', ...args])
  const pass = await cli('process', '--data-dir', dir)
  // The processor's logs (info and up) carry no number, nor the message text.
  assert.equal(/33600112233|"hi"|STOP/.test(pass.stdout + pass.stderr), false)
  const outBefore = await Promise.all((await readdir(join(dir, 'out'))).map((n) => readFile(join(dir, 'out', n), 'utf8')))
  assert.ok(outBefore.join('').includes(TARGET), 'the pass wrote the number to the outputs')

  const { stdout } = await cli('purge', '--number', TARGET, '--yes', '--data-dir', dir)
  assert.match(stdout, /spool +removed 2 records/)
  assert.match(stdout, /out +removed 2 lines from 2 of 3 files/)
  assert.equal(await readFile(join(dir, 'spool', seg), 'utf8'), keep)
  const checkpoint = JSON.parse(await readFile(join(dir, 'state', 'checkpoint.json'), 'utf8')) as { offset: number }
  assert.equal(checkpoint.offset, Buffer.byteLength(keep))
  for (const name of await readdir(join(dir, 'out'))) {
    assert.equal((await readFile(join(dir, 'out', name), 'utf8')).includes('33600112233'), false, name)
  }
  // The processor validates the moved checkpoint (newline before it, within the file) and goes on.
  // An idle pass logs at debug only.
  const again = await cli('process', '--data-dir', dir, '--log-level', 'debug')
  assert.match(again.stdout, /"records_read":0/)
})

test('a checkpoint that cannot be read stops the purge before anything changes', async (t) => {
  const dir = await tempDataDir(t)
  const seg = segmentName(1, new Date())
  const content = line(`number=${encodeURIComponent(TARGET)}`) + line('number=%2B33700998877')
  await writeFile(join(dir, 'spool', seg), content)
  await mkdir(join(dir, 'state'), { recursive: true })
  await writeFile(join(dir, 'state', 'checkpoint.json'), '{"segment": "trunc')
  await assert.rejects(purgeNumber(dataLayout(dir), TARGET), (err: Error & { code?: string, exitCode?: number }) => {
    assert.equal(err.code, 'SPOOL_ERR_CHECKPOINT_CORRUPT')
    assert.equal(err.exitCode, 78)
    assert.match(err.message, /replay --data-dir/)
    return true
  })
  assert.equal(await readFile(join(dir, 'spool', seg), 'utf8'), content, 'the segment is untouched')
})

test('a data dir without a spool is refused (exit 66), not purged as empty', async (t) => {
  const dir = await tempDir(t)
  await assert.rejects(purgeNumber(dataLayout(dir), TARGET), { code: 'SPOOL_ERR_NO_SPOOL', exitCode: 66 })
})
