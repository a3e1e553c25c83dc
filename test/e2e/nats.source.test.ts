/**
 * `process --source nats://...`: a durable pull consumer on a real nats-server (127.0.0.1:4222,
 * or CALLBACK_SPOOL_TEST_NATS), a stream of each test's own, deleted afterwards.
 */
import assert from 'node:assert/strict'
import { readFile, readdir, writeFile, chmod } from 'node:fs/promises'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { runCli } from '../helpers/cli.js'
import { closedPort, reachNats, testStream } from '../helpers/nats-server.js'
import { jetstream } from '@nats-io/jetstream'
import { normalisedRecord, publishRecords, sourceUrl } from '../helpers/nats-records.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'

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

test('dead retry: a --source processor dispatches its re-queued dead letters before the stream; one that keeps failing holds back only the re-queue', { skip }, async (t) => {
  const stream = await testStream(t, server!, {})
  const dir = await tempDir(t)
  const script = join(dir, 'fail.sh')
  await writeFile(script, '#!/bin/sh\nexit 1\n')
  await chmod(script, 0o755)
  const out = join(dir, 'out.ndjson')
  const source = ['--source', sourceUrl(server!, stream), '--tries', '1', '--dead-after', '1ms', '--retry-pause', '10ms', '--ack-wait', '5s']
  const failing = normalisedRecord(0, 'delivery')
  await publishRecords(server!, stream, [failing])
  const first = runCli(['process', '--data-dir', dir, ...source, '--max-attempts', '1', '--on', `delivery=exec:${script}`])
  assert.equal((await first.exited).code, 0, first.stderr())
  assert.deepEqual((await deadLetters(dir)).map((d) => (d.record as { id: string }).id), [failing.id])

  const retry = runCli(['dead', 'retry', '--data-dir', dir])
  assert.equal((await retry.exited).code, 0, retry.stderr())
  assert.deepEqual(await deadLetters(dir), [])
  assert.equal((await readdir(join(dir, 'requeue'))).filter((f) => f.endsWith('.ndjson')).length, 1)

  // The target still fails: the re-queued record is kept (its attempt counted), the stream goes on.
  const behind = normalisedRecord(1, 'reply')
  await publishRecords(server!, stream, [behind])
  const stillFailing = runCli(['process', '--data-dir', dir, ...source, '--max-attempts', '5', '--on', `delivery=exec:${script}`, '--on', `reply=file:${out}`])
  assert.equal((await stillFailing.exited).code, 75, stillFailing.stderr())
  assert.match(stillFailing.stdout(), /re-queued record kept for the next pass/)
  assert.deepEqual((await readLines(out)).map((l) => l.id), [behind.id])
  assert.equal((await readdir(join(dir, 'requeue'))).filter((f) => f.endsWith('.ndjson')).length, 1)
  const attempts = JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')) as Record<string, { attempts: number }>
  assert.equal(attempts[failing.id]?.attempts, 1)

  // Mended: the re-queued record is handed over as it was published, the file and its count gone.
  const mended = runCli(['process', '--data-dir', dir, ...source, '--max-attempts', '5', '--on', `*=file:${out}`])
  assert.equal((await mended.exited).code, 0, mended.stderr())
  const lines = await readLines(out)
  assert.deepEqual(lines.map((l) => l.id), [behind.id, failing.id])
  assert.deepEqual(lines[1], JSON.parse(JSON.stringify(failing)))
  assert.deepEqual((await readdir(join(dir, 'requeue'))).filter((f) => f.endsWith('.ndjson')), [])
  assert.deepEqual(await deadLetters(dir), [])
  const pass = JSON.parse(await readFile(join(dir, 'state', 'last-pass.json'), 'utf8')) as { figures: { requeued_read: number } }
  assert.equal(pass.figures.requeued_read, 1)
  const info = await server!.jsm.consumers.info(stream.name, 'procs')
  assert.equal(info.num_ack_pending, 0)
  assert.equal(info.num_pending, 0)
})

/** An HTTP target that answers 200 after `delayMs`, and remembers which path (processor) got each id. */
async function slowTarget (t: TestContext, delayMs: number): Promise<{ port: number, seen: Map<string, string[]>, count: (path: string) => number }> {
  const seen = new Map<string, string[]>()
  const server = createServer((req, res) => {
    let body = ''
    req.setEncoding('utf8').on('data', (c: string) => { body += c }).on('end', () => {
      const id = (JSON.parse(body) as { id: string }).id
      setTimeout(() => {
        const paths = seen.get(id) ?? []
        paths.push(req.url ?? '')
        seen.set(id, paths)
        res.end('ok')
      }, delayMs)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })
  const count = (path: string): number => [...seen.values()].filter((p) => p.includes(path)).length
  return { port: (server.address() as AddressInfo).port, seen, count }
}

test('two processors share one consumer; one SIGKILLed mid-way, the other ends with every message handled and acked', { skip }, async (t) => {
  const stream = await testStream(t, server!, {})
  const records = await publishRecords(server!, stream, Array.from({ length: 600 }, (_, i) => normalisedRecord(i)))
  const target = await slowTarget(t, 10)
  const processor = async (name: string): Promise<ReturnType<typeof runCli>> => {
    const dir = await tempDir(t)
    const p = runCli(['process', '--follow', '--data-dir', dir, '--source', sourceUrl(server!, stream), '--on', `*=http://127.0.0.1:${target.port}/${name}`,
      '--concurrency', '4', '--ack-wait', '2s'])
    t.after(() => { p.child.kill('SIGKILL') })
    return p
  }
  const one = await processor('one')
  const two = await processor('two')
  await waitFor('both processors at work', () => target.count('/one') >= 60 && target.count('/two') >= 60, 30_000)
  one.child.kill('SIGKILL')
  assert.equal((await one.exited).signal, 'SIGKILL')
  assert.ok(target.count('/one') < records.length, 'killed mid-way')
  await waitFor('every message handled and acked', async () => {
    if (records.some((r) => !target.seen.has(r.id))) return false
    const info = await server!.jsm.consumers.info(stream.name, 'procs')
    return info.num_pending === 0 && info.num_ack_pending === 0
  }, 60_000, 200)
  two.child.kill('SIGTERM')
  assert.equal((await two.exited).code, 0, two.stdout())
  // Each message handled (a message handled by the killed one and not acked is handled again: at least once).
  for (const r of records) assert.ok(target.seen.get(r.id)!.length >= 1)
  const info = await server!.jsm.consumers.info(stream.name, 'procs')
  assert.equal(info.ack_floor.stream_seq, records.length)
  // What the killed one had in hand and not acked went to the other after the ack wait.
  assert.ok(records.some((r) => target.seen.get(r.id)!.includes('/one') && target.seen.get(r.id)!.includes('/two')))
})

test('status --source shows the stream\'s and the consumer\'s figures', { skip }, async (t) => {
  const stream = await testStream(t, server!, {})
  const dir = await tempDir(t)
  await publishRecords(server!, stream, Array.from({ length: 10 }, (_, i) => normalisedRecord(i)))
  const url = sourceUrl(server!, stream)
  const run = runCli(['process', '--data-dir', dir, '--source', url, '--on', `*=file:${join(dir, 'out.ndjson')}`, '--ack-wait', '30s'])
  assert.equal((await run.exited).code, 0, run.stdout())
  await publishRecords(server!, stream, Array.from({ length: 5 }, (_, i) => normalisedRecord(10 + i)))
  // One message delivered twice and not acked.
  const consumer = await jetstream(server!.nc).consumers.get(stream.name, 'procs')
  const first = await consumer.next({ expires: 2000 })
  first!.nak()
  // The nak is a message of its own: a flush makes the server take it before the next pull (else that pull may get message 12).
  await server!.nc.flush()
  const again = await consumer.next({ expires: 2000 })
  assert.equal(again!.info.deliveryCount, 2)

  const status = runCli(['status', '--json', '--source', url])
  assert.equal((await status.exited).code, 0, status.stderr())
  const report = JSON.parse(status.stdout()) as { stream: Record<string, unknown>, consumer: Record<string, unknown> }
  assert.equal(report.stream.messages, 15)
  assert.equal(report.stream.last_seq, 15)
  assert.equal(report.consumer.pending, 4)
  assert.equal(report.consumer.ack_pending, 1)
  assert.equal(report.consumer.redelivered, 1)
  assert.equal(report.consumer.ack_floor_stream_seq, 10)
  assert.equal(report.consumer.ack_wait_seconds, 30)
  again!.ack()

  const text = runCli(['status', '--source', url])
  assert.equal((await text.exited).code, 0)
  assert.match(text.stdout(), new RegExp(`stream +${stream.name}: 15 message\\(s\\)`))
  assert.match(text.stdout(), /consumer +procs: 4 pending, 0 delivered and not acked \(0 redelivered\), ack floor 11/)

  const missing = runCli(['status', '--source', `nats://${server!.address}?stream=${stream.name}&consumer=nobody`])
  assert.equal((await missing.exited).code, 0)
  assert.match(missing.stdout(), /consumer +none yet/)
})

test('status --source: a server that does not answer is one line and exit 69', async () => {
  const port = await closedPort()
  const status = runCli(['status', '--source', `nats://127.0.0.1:${port}?stream=X`])
  assert.equal((await status.exited).code, 69)
  assert.equal(status.stderr().trim().split('\n').length, 1, status.stderr())
})
