/** The real CLI, spawned: exit codes, the lock, --follow, --schedule, SIGTERM, and a crash test with SIGKILL. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { appendFile, readFile, writeFile, mkdir, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { BIN } from '../helpers/cli.js'
import { silentLogger } from '../helpers/logger.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { readNdjson } from '../helpers/ndjson.js'
import { waitFor } from '../helpers/wait.js'
import { skipWithoutStrace } from '../helpers/strace.js'
import { createProgram } from '../../src/cli.js'
import { encodeRecord } from '../../src/record.js'

interface Spawned { child: ChildProcess, stdout: () => string, stderr: () => string, exited: Promise<number | null> }

function start (args: string[], env: Record<string, string> = {}): Spawned {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d })
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d })
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  return { child, stdout: () => out, stderr: () => err, exited }
}

async function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const s = start(args, env)
  const code = await s.exited
  return { code, stdout: s.stdout(), stderr: s.stderr() }
}

async function countLines (path: string): Promise<number> {
  try {
    return (await readFile(path, 'utf8')).split('\n').filter((l) => l !== '').length
  } catch {
    return 0
  }
}

test('exit codes: 0 done, 75 retry later, 78 bad checkpoint or schedule, 64 usage; env vars feed options', async (t) => {
  const dir = await tempDir(t)
  const seg = await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const ok = await run(['process', '--data-dir', dir])
  assert.equal(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /"msg":"pass done: 1 records/)
  assert.equal((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).length, 1)

  await appendFile(join(dir, 'spool', seg), lines([deliveryRecord(2)]))
  const failing = await run(['process', '--data-dir', dir, '--retry-delay', '10ms'], { CALLBACK_SPOOL_ON: 'delivery=exec:exit 9' })
  assert.equal(failing.code, 75, failing.stderr)
  assert.match(failing.stdout, /retry later/)

  await writeFile(join(dir, 'state', 'checkpoint.json'), JSON.stringify({ segment: seg, offset: 3 }))
  const corrupt = await run(['process', '--data-dir', dir])
  assert.equal(corrupt.code, 78)
  assert.equal(corrupt.stderr.trim().split('\n').length, 1, 'one line')
  assert.match(corrupt.stderr, /not at the start of a line.*callback-spool replay/)

  const schedule = await run(['process', '--data-dir', dir, '--schedule', 'every day'])
  assert.equal(schedule.code, 78)
  assert.match(schedule.stderr, /--schedule/)
  const tz = await run(['process', '--data-dir', dir], { CALLBACK_SPOOL_PROVIDER_TZ: 'Nowhere/Land' })
  assert.equal(tz.code, 78)
  const usage = await run(['process', '--data-dir', dir, '--no-such-option'])
  assert.equal(usage.code, 64)
})

test('two processors at once: the second logs one line and exits 0 at once', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1), deliveryRecord(2)]))
  // The first one's handler holds until the test lets it go.
  const release = join(dir, 'release')
  const first = start(['process', '--data-dir', dir, '--on', `*=exec:cat > /dev/null; touch ${join(dir, 'started')}; while [ ! -e ${release} ]; do sleep 0.02; done`])
  t.after(() => first.child.kill('SIGKILL'))
  await waitFor('first processor busy', async () => (await readdir(dir)).includes('started'), 10_000)
  const second = await run(['process', '--data-dir', dir])
  assert.equal(second.code, 0)
  const logged = second.stdout.trim().split('\n')
  assert.equal(logged.length, 1)
  assert.match(logged[0]!, /another processor is running/)
  await writeFile(release, '')
  assert.equal(await first.exited, 0)
  assert.match(first.stdout(), /pass done: 2 records/)
})

test('--follow dispatches a new record quickly (by file-system events, not polling), and SIGTERM ends it with exit 0', async (t) => {
  const dir = await tempDir(t)
  const seg = await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  // Polling every 30 s: only the watcher can make this fast.
  const follower = start(['process', '--data-dir', dir, '--follow', '--poll-interval', '30s'])
  t.after(() => follower.child.kill('SIGKILL'))
  const out = join(dir, 'out', 'delivery.ndjson')
  await waitFor('first record', async () => (await countLines(out)) === 1 && follower.stdout().includes('following the spool'), 10_000)
  const latencies: number[] = []
  for (let i = 2; i <= 4; i++) {
    const sent = Date.now()
    await appendFile(join(dir, 'spool', seg), encodeRecord(deliveryRecord(i)))
    await waitFor(`record ${i}`, async () => (await countLines(out)) === i, 5000)
    latencies.push(Date.now() - sent)
  }
  t.diagnostic(`--follow latency: ${latencies.join(', ')} ms`)
  // A new segment (a rotation) is followed too.
  await writeSegment(dir, 2, encodeRecord(deliveryRecord(5)))
  await waitFor('record in a new segment', async () => (await countLines(out)) === 5, 5000)
  assert.ok(Math.min(...latencies) < 5000)
  follower.child.kill('SIGTERM')
  assert.equal(await follower.exited, 0)
  assert.match(follower.stdout(), /"signal":"SIGTERM"/)
})

test('--schedule makes passes on the cron schedule (seconds allowed) until SIGTERM', async (t) => {
  const dir = await tempDir(t)
  const seg = await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const scheduled = start(['process', '--data-dir', dir, '--schedule', '* * * * * *'])
  t.after(() => scheduled.child.kill('SIGKILL'))
  const out = join(dir, 'out', 'delivery.ndjson')
  await waitFor('first scheduled pass', async () => (await countLines(out)) === 1, 10_000)
  await appendFile(join(dir, 'spool', seg), encodeRecord(deliveryRecord(2)))
  await waitFor('next scheduled pass', async () => (await countLines(out)) === 2, 10_000)
  scheduled.child.kill('SIGTERM')
  assert.equal(await scheduled.exited, 0)
  assert.ok((scheduled.stdout().match(/"msg":"pass done/g) ?? []).length >= 2)
})

test('crash test: SIGKILL mid-pass, run again: every record reached the handler, none skipped, redeliveries within one batch', async (t) => {
  const dir = await tempDir(t)
  const count = 3000
  const batch = 250
  const recs = Array.from({ length: count }, (_, i) => deliveryRecord(i))
  // Several segments, so a kill may land anywhere.
  for (let s = 0; s < 3; s++) await writeSegment(dir, s + 1, lines(recs.slice(s * 1000, (s + 1) * 1000)))
  const seen = join(dir, 'seen.txt')
  const mod = join(dir, 'slow.mjs')
  await writeFile(mod, `
import { appendFileSync } from 'node:fs'
export default async function (record) {
  appendFileSync(${JSON.stringify(seen)}, record.id + '\\n')
  if (process.env.SLOW) await new Promise((resolve) => setTimeout(resolve, 1))
}
`)
  const args = ['process', '--data-dir', dir, '--on', `*=module:${mod}`, '--batch-size', String(batch)]
  const victim = start(args, { SLOW: '1' })
  await waitFor('the first run to get going', async () => (await countLines(seen)) >= 1200, 30_000)
  victim.child.kill('SIGKILL')
  await victim.exited
  const beforeRestart = await countLines(seen)
  assert.ok(beforeRestart < count, 'killed mid-pass')
  const again = await run(args)
  assert.equal(again.code, 0, again.stderr)
  const ids = (await readFile(seen, 'utf8')).trim().split('\n')
  const unique = new Set(ids)
  for (const r of recs) assert.ok(unique.has(r.id), `record ${r.id} never reached the handler`)
  assert.equal(unique.size, count)
  const redelivered = ids.length - count
  t.diagnostic(`killed after ${beforeRestart} deliveries; ${redelivered} redelivered (batch ${batch})`)
  assert.ok(redelivered <= batch, `redeliveries (${redelivered}) bounded by one batch (${batch})`)
  // The second run started where the checkpoint was: it re-delivered a suffix of the first run, then went on in order.
  const second = ids.slice(beforeRestart)
  const startAt = recs.findIndex((r) => r.id === second[0])
  assert.deepEqual(second, recs.slice(startAt).map((r) => r.id))
  await mkdir(join(dir, 'state'), { recursive: true })
  const cp = JSON.parse(await readFile(join(dir, 'state', 'checkpoint.json'), 'utf8'))
  assert.equal(cp.offset, Buffer.byteLength(lines(recs.slice(2000))))
})

test('crash test, file output: SIGKILL while a checkpoint is being written in the background: the output covers the checkpoint and goes past it by one batch at most', async (t) => {
  if (skipWithoutStrace(t, 'to slow the fsyncs down')) return
  const dir = await tempDir(t)
  const count = 30_000
  // Larger than a 256 KiB output buffer: buffers fill, and would be written, while a commit is in flight.
  const batch = 1000
  const recs = Array.from({ length: count }, (_, i) => deliveryRecord(i))
  const spoolText = lines(recs)
  await writeSegment(dir, 1, spoolText)
  const lineEnds: number[] = []
  for (let at = spoolText.indexOf('\n'); at !== -1; at = spoolText.indexOf('\n', at + 1)) lineEnds.push(at + 1)
  const checkpointFile = join(dir, 'state', 'checkpoint.json')
  const out = join(dir, 'out', 'delivery.ndjson')
  const outputIds = async (): Promise<string[]> => (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l).id as string)
  const args = ['process', '--data-dir', dir, '--batch-size', String(batch)]
  // Every fsync and fdatasync takes 30 ms (a slow disk): commits are in flight most of the time,
  // while the next batches are dispatched.
  const traced = spawn('strace', ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fsync,fdatasync', '-e', 'inject=fsync,fdatasync:delay_exit=30000',
    process.execPath, BIN, ...args], { stdio: 'ignore' })
  const tracedExit = new Promise((resolve) => traced.on('close', resolve))
  await waitFor('a few checkpoints', async () => {
    const text = await readFile(checkpointFile, 'utf8').catch(() => '')
    return text !== '' && (JSON.parse(text) as { offset: number }).offset >= lineEnds[3 * batch - 1]!
  }, 30_000, 1)
  // The processor itself: killing strace would only detach it.
  const pid = Number(execFileSync('pgrep', ['-P', String(traced.pid)], { encoding: 'utf8' }).trim())
  process.kill(pid, 'SIGKILL')
  await tracedExit
  // spoolText is ASCII: string offsets are byte offsets.
  const cp = JSON.parse(await readFile(checkpointFile, 'utf8'))
  const before = lineEnds.indexOf(cp.offset) + 1
  assert.ok(before > 0, `the checkpoint ${cp.offset} is at a line end`)
  const written = await outputIds()
  assert.deepEqual(written, recs.slice(0, written.length).map((r) => r.id), 'the output is the records in order')
  t.diagnostic(`killed with the checkpoint after ${before} records and ${written.length} in the output (batch ${batch})`)
  assert.ok(written.length >= before, 'every record before the checkpoint is in the output')
  assert.ok(written.length - before <= batch, `output past the checkpoint (${written.length - before}) within one batch (${batch})`)
  const again = await run(args)
  assert.equal(again.code, 0, again.stderr)
  const ids = await outputIds()
  assert.equal(new Set(ids).size, count)
  assert.ok(ids.length - count <= batch, `redeliveries (${ids.length - count}) within one batch`)
})

test('in process: createProgram() runs `process` with an explicit argv and sets the exit code', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  t.after(() => { process.exitCode = undefined })
  const program = createProgram({ logger: silentLogger(), onSignal: () => {} }).exitOverride()
  await program.parseAsync(['node', 'callback-spool', 'process', '--data-dir', dir, '--retry-delay', '1ms', '--tries', '2', '--on', 'delivery=exec:exit 3'])
  assert.equal(process.exitCode, 75)
  process.exitCode = undefined
  await createProgram({ logger: silentLogger(), onSignal: () => {} }).parseAsync(['node', 'callback-spool', 'process', '--data-dir', dir])
  assert.equal(process.exitCode, 0)
  assert.equal((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).length, 1)
})
