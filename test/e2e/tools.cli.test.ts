/** The operator tools through the real CLI (bin/callback-spool.js): output, exit codes, signals, pipes. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { deliveryRecord, lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { readNdjson } from '../helpers/ndjson.js'
import { BIN, REPO, killHard, runCli, startCliReceiver } from '../helpers/cli.js'
import { loadFixture } from '../helpers/fixtures.js'
import { send } from '../helpers/http.js'
import { waitFor } from '../helpers/wait.js'

async function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const cli = runCli(args, env)
  const { code } = await cli.exited
  return { code, stdout: cli.stdout(), stderr: cli.stderr() }
}

test('verify through the CLI: exit 0 when sound, 1 with each torn and invalid line located', async (t) => {
  const dir = await tempDir(t)
  const r = [deliveryRecord(1), deliveryRecord(2)]
  const seg1 = await writeSegment(dir, 1, lines(r))
  await writeSegment(dir, 2, lines([deliveryRecord(3)]))
  const sound = await run(['verify', '--data-dir', dir])
  assert.equal(sound.code, 0, sound.stderr)
  assert.match(sound.stdout, /^sound: 2 segment\(s\), 3 record\(s\), checkpoint ok\n$/)

  // Inject an invalid line between the two records, and a torn tail: a power cut mid-write.
  await writeFile(join(dir, 'spool', seg1), lines([r[0]!]) + '{"v":1,"id":"broken"}\n' + lines([r[1]!]) + '{"v":1,"received')
  const broken = await run(['verify', '--data-dir', dir])
  assert.equal(broken.code, 1)
  const at = Buffer.byteLength(lines([r[0]!]))
  assert.match(broken.stdout, new RegExp(`${seg1} line 2 \\(byte ${at}\\): invalid line: missing or invalid id`))
  const tornAt = at + '{"v":1,"id":"broken"}\n'.length + Buffer.byteLength(lines([r[1]!]))
  assert.match(broken.stdout, new RegExp(`${seg1} line 4 \\(byte ${tornAt}\\): torn line`))
  assert.equal(broken.stderr, '')
})

test('replay through the CLI: process, replay --all --yes, process again: every record reaches the output twice', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1), deliveryRecord(2)]))
  await writeSegment(dir, 2, lines([deliveryRecord(3)]))
  const out = join(dir, 'out', 'delivery.ndjson')
  assert.equal((await run(['process', '--data-dir', dir])).code, 0)
  assert.equal((await readNdjson(out)).length, 3)

  const noYes = await run(['replay', '--all', '--data-dir', dir])
  assert.equal(noYes.code, 64)
  assert.equal(noYes.stderr.trim().split('\n').length, 1, 'one line')
  assert.match(noYes.stderr, /pass --yes/)

  const replay = await run(['replay', '--all', '--yes', '--data-dir', dir])
  assert.equal(replay.code, 0, replay.stderr)
  assert.match(replay.stdout, /3 record\(s\) will be dispatched again/)
  assert.equal((await run(['process', '--data-dir', dir])).code, 0)
  const ids = (await readNdjson(out)).map((r) => r.id as string)
  assert.equal(ids.length, 6)
  assert.deepEqual(ids.slice(3), ids.slice(0, 3), 'the same records, in the same order, again')
})

test('replay is refused while a processor runs: exit 75, one line', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const follower = runCli(['process', '--follow', '--data-dir', dir])
  t.after(() => killHard(follower))
  await waitFor('the processor to start', () => follower.stdout().includes('following the spool'), 10_000, 20)
  const refused = await run(['replay', '--all', '--yes', '--data-dir', dir])
  assert.equal(refused.code, 75)
  assert.equal(refused.stderr.trim().split('\n').length, 1)
  assert.match(refused.stderr, /a processor is running on .* \(pid \d+/)
  follower.child.kill('SIGTERM')
  assert.equal((await follower.exited).code, 0)
})

test('dead retry through the CLI: dead-lettered by an exec handler exiting 65, retried, then delivered by a handler that succeeds', async (t) => {
  const dir = await tempDir(t)
  const record = recordWithFields({ message_id: 'm1', number: '+33600000000', text: 'STOP', stop_date: '2020-11-04 11:11:45' })
  await writeSegment(dir, 1, lines([record]))
  const refused = await run(['process', '--data-dir', dir, '--on', 'optout=exec:cat > /dev/null; exit 65'])
  assert.equal(refused.code, 0, refused.stderr)
  const list = await run(['dead', 'list', '--data-dir', dir])
  assert.match(list.stdout, new RegExp(`optout\\s+\\+336\\*{5}\\d{3}\\s+${record.id}\\s+exec:cat > /dev/null; exit 65\\s+exit 65`))
  assert.equal(list.stdout.trim().split('\n').length, 1)

  const retry = await run(['dead', 'retry', '--id', record.id, '--data-dir', dir])
  assert.equal(retry.code, 0, retry.stderr)
  assert.match(retry.stdout, /1 record\(s\) re-queued/)
  assert.equal((await run(['dead', 'list', '--data-dir', dir])).stdout, 'no dead letters\n')
  assert.equal((await readdir(join(dir, 'requeue'))).length, 1)

  const delivered = await run(['process', '--data-dir', dir])
  assert.equal(delivered.code, 0, delivered.stderr)
  const out = await readNdjson(join(dir, 'out', 'optout.ndjson'))
  assert.deepEqual(out.map((r) => [r.id, r.number, r.text]), [[record.id, '+33600000000', 'STOP']])
  assert.deepEqual(await readdir(join(dir, 'requeue')), [])
  const again = await run(['dead', 'retry', '--id', record.id, '--data-dir', dir])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /no dead letter holds a record with id/)
})

test('cat --follow through the CLI: records across rotations of a real receiver, SIGTERM ends it with exit 0', async (t) => {
  const dir = await tempDir(t)
  const receiver = await startCliReceiver(dir, ['--rotate-bytes', '1KiB'])
  t.after(() => killHard(receiver))
  const follower = runCli(['cat', '--follow', '--pretty', '--poll-interval', '100ms', '--data-dir', dir])
  t.after(() => killHard(follower))
  const fixture = loadFixture('optout-form.http')
  const count = 8
  for (let i = 0; i < count; i++) {
    const body = fixture.body.toString().replace('sms_5fa275dbf21dc', `msg_${i}`)
    const res = await send(receiver.port, { path: fixture.target, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    assert.equal(res.status, 200)
  }
  await waitFor(`${count} lines from cat --follow`, () => follower.stdout().split('\n').filter(Boolean).length >= count, 10_000, 20)
  const segments = (await readdir(join(dir, 'spool'))).filter((n) => n.endsWith('.ndjson'))
  assert.ok(segments.length >= 3, `the receiver rotated (${segments.length} segments)`)
  const printed = follower.stdout().split('\n').filter(Boolean)
  assert.deepEqual(printed.map((l) => /msg_\d+/.exec(l)?.[0]), Array.from({ length: count }, (_, i) => `msg_${i}`))
  assert.ok(printed.every((l) => /optout\s+\+33600000000\s+STOP/.test(l)), printed[0])
  follower.child.kill('SIGTERM')
  assert.equal((await follower.exited).code, 0)
  assert.equal(follower.stderr(), '')
})

test('cat into a pipe closed early (cat | head -1) ends quietly with exit 0', async (t) => {
  const dir = await tempDir(t)
  // Enough output to overflow the pipe after head has gone.
  const many = Array.from({ length: 3000 }, (_, i) => deliveryRecord(i))
  await writeSegment(dir, 1, lines(many))
  const shell = spawn('/bin/sh', ['-c', `"${process.execPath}" "${BIN}" cat --data-dir "${dir}"; echo "cat exit $?" >&2`], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let err = ''
  shell.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c })
  // Read one chunk, then close our end as head would.
  await once(shell.stdout!, 'data')
  shell.stdout!.destroy()
  await once(shell, 'exit')
  assert.match(err, /cat exit 0\n$/)
  assert.doesNotMatch(err, /EPIPE|Error/)
})

test('status --json through the CLI, with a receiver running', async (t) => {
  const dir = await tempDir(t)
  const receiver = await startCliReceiver(dir)
  t.after(() => killHard(receiver))
  const fixture = loadFixture('delivery-form.http')
  assert.equal((await send(receiver.port, { path: fixture.target, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: fixture.body })).status, 200)
  const { code, stdout, stderr } = await run(['status', '--json', '--data-dir', dir])
  assert.equal(code, 0, stderr)
  const s = JSON.parse(stdout)
  assert.equal(s.receiver.running, true)
  assert.equal(s.receiver.pid, receiver.pid)
  assert.equal(s.processor.running, false)
  assert.equal(s.segments.count, 1)
  assert.equal(s.checkpoint, null)
  assert.equal(s.backlog.records, 1)
  assert.equal(s.last_pass, null)
  const text = await readFile(join(dir, 'spool', s.segments.newest.name), 'utf8')
  assert.equal(s.segments.bytes, Buffer.byteLength(text))
})
