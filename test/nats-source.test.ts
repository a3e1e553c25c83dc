/**
 * `process --source nats://...`: a durable pull consumer on a real nats-server (127.0.0.1:4222,
 * or CALLBACK_SPOOL_TEST_NATS), a stream of each test's own, deleted afterwards.
 */
import assert from 'node:assert/strict'
import { readFile, readdir, writeFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { runCli } from './helpers/cli.js'
import { reachNats, testStream } from './helpers/nats-server.js'
import { normalisedRecord, publishRecords, sourceUrl } from './helpers/nats-records.js'
import { tempDir } from './helpers/tmp.js'

const server = await reachNats()
const skip = server === undefined ? 'no nats-server' : false
test.after(async () => { await server?.nc.close() })

async function readLines (path: string): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

async function deadLetters (dataDir: string): Promise<Array<Record<string, unknown>>> {
  const dir = join(dataDir, 'dead')
  const files = await readdir(dir).catch(() => [] as string[])
  const out: Array<Record<string, unknown>> = []
  for (const f of files) out.push(...await readLines(join(dir, f)))
  return out
}

test('every message reaches the file target once and is acked; a second run finds nothing', { skip }, async (t) => {
  const stream = await testStream(t, server!, {})
  const dir = await tempDir(t)
  const kinds = ['delivery', 'reply', 'optout', 'unknown'] as const
  const records = await publishRecords(server!, stream, Array.from({ length: 2000 }, (_, i) => normalisedRecord(i, kinds[i % 4])))
  const out = join(dir, 'out.ndjson')
  const args = ['process', '--data-dir', dir, '--source', sourceUrl(server!, stream), '--on', `*=file:${out}`, '--ack-wait', '5s']
  const run = runCli(args)
  const { code } = await run.exited
  assert.equal(code, 0, run.stderr())
  const lines = await readLines(out)
  assert.deepEqual(lines.map((l) => l.id).sort(), records.map((r) => r.id).sort())
  // The record as published, unchanged.
  assert.deepEqual(lines.find((l) => l.id === records[7]!.id), JSON.parse(JSON.stringify(records[7])))
  const info = await server!.jsm.consumers.info(stream.name, 'procs')
  assert.equal(info.num_pending, 0)
  assert.equal(info.num_ack_pending, 0)
  assert.equal(info.ack_floor.stream_seq, records.length)
  assert.equal(info.config.ack_wait, 5e9)
  const passFile = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { figures: { records_read: number, by_kind: Record<string, { done: number }> } }
  assert.equal(passFile.figures.records_read, records.length)
  assert.equal(passFile.figures.by_kind.delivery?.done, 500)

  const again = runCli(args)
  assert.equal((await again.exited).code, 0, again.stderr())
  assert.equal((await readLines(out)).length, records.length)
})

test('a failing target: the message is naked, delivered again, dead-lettered after --max-attempts deliveries and acked; the others are not held back', { skip }, async (t) => {
  const stream = await testStream(t, server!, {})
  const dir = await tempDir(t)
  const calls = join(dir, 'calls.txt')
  const script = join(dir, 'fail.sh')
  await writeFile(script, `#!/bin/sh\necho x >> ${calls}\nexit 1\n`)
  await chmod(script, 0o755)
  const failing = normalisedRecord(0, 'delivery')
  const others = [normalisedRecord(1, 'reply'), normalisedRecord(2, 'reply')]
  await publishRecords(server!, stream, [failing, ...others])
  const out = join(dir, 'replies.ndjson')
  const args = ['process', '--data-dir', dir, '--source', sourceUrl(server!, stream), '--on', `delivery=exec:${script}`, '--on', `reply=file:${out}`,
    '--tries', '1', '--max-attempts', '3', '--dead-after', '1ms', '--retry-pause', '10ms', '--ack-wait', '5s']
  // The back-off is short: the deliveries may come within one run or over several (exit 75 until the last).
  let code: number | null = 75
  for (let run = 1; run <= 10 && code === 75; run++) {
    const next = runCli(args)
    code = (await next.exited).code
    // The replies behind the failing delivery are done in the first run.
    if (run === 1) assert.deepEqual((await readLines(out)).map((l) => l.id).sort(), others.map((r) => r.id).sort(), next.stdout())
  }
  assert.equal(code, 0)
  const dead = await deadLetters(dir)
  assert.equal(dead.length, 1)
  assert.equal((dead[0]!.record as { id: string }).id, failing.id)
  assert.equal(dead[0]!.attempts, 3)
  assert.equal((await readFile(calls, 'utf8')).split('\n').filter((l) => l !== '').length, 3)
  const info = await server!.jsm.consumers.info(stream.name, 'procs')
  assert.equal(info.num_ack_pending, 0)
  assert.equal(info.num_pending, 0)
  assert.equal(info.ack_floor.stream_seq, 3)
})
