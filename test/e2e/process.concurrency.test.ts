/**
 * Records in flight side by side (--concurrency): order per key against a server with random
 * latencies, the low-water checkpoint across a SIGKILL of the real CLI, and a record whose tries
 * run out while others are in flight.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { processOptionsFrom } from '../../src/processor/options.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { loadCheckpoint } from '../../src/spool/checkpoint.js'
import type { SpoolRecord } from '../../src/record.js'
import { killHard, runCli } from '../helpers/cli.js'
import { silentLogger } from '../helpers/logger.js'
import { processorOptions } from '../helpers/processor.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { waitFor } from '../helpers/wait.js'
import { dataLayout } from '../../src/spool/layout.js'

const noSignals = (): void => {}

interface Call { id: string, number: string }

/** A server on port 0 that hands each POSTed record to `answer`, which ends the response when it likes. */
async function startServer (t: { after: (fn: () => unknown) => void }, answer: (call: Call, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (d: string) => { body += d })
    req.on('end', () => {
      const record = JSON.parse(body) as { id: string, number: string }
      answer({ id: record.id, number: record.number }, res)
    })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
}

function reply (i: number, number: string, at = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i))): SpoolRecord {
  return recordWithFields({ message_id: `m${i}`, number, text: `r${i}`, reception_date: '2020-11-04 11:11:45' }, at)
}

test('order per number: one number in spool order and never two at once; different numbers side by side', async (t) => {
  const dir = await tempDir(t)
  const numbers = ['+33600000001', '+33600000002', '+33600000003', '+33600000004', '+33600000005']
  const recs = Array.from({ length: 100 }, (_, i) => reply(i, numbers[(i * 7 + (i >> 3)) % numbers.length]!))
  await writeSegment(dir, 1, lines(recs))
  const busy = new Map<string, number>()
  const arrived = new Map<string, string[]>()
  let inFlight = 0
  let most = 0
  let overlapsOfOneNumber = 0
  const url = await startServer(t, (call, res) => {
    if ((busy.get(call.number) ?? 0) > 0) overlapsOfOneNumber++
    busy.set(call.number, (busy.get(call.number) ?? 0) + 1)
    arrived.set(call.number, [...(arrived.get(call.number) ?? []), call.id])
    most = Math.max(most, ++inFlight)
    setTimeout(() => {
      busy.set(call.number, busy.get(call.number)! - 1)
      inFlight--
      res.end()
    }, Math.random() * 20)
  })
  const options = processorOptions(dir, { routes: [parseRoute(`*=${url}`)], concurrency: 8 })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  assert.equal(overlapsOfOneNumber, 0, 'two records of one number were in flight together')
  for (const number of numbers) {
    assert.deepEqual(arrived.get(number), recs.filter((r) => r.fields.number === number).map((r) => r.id), `records of ${number} in spool order`)
  }
  assert.ok(most > 1, `records of different numbers side by side (at most ${most} at once)`)
  assert.ok(most <= 8, `no more than --concurrency at once (${most})`)
  assert.equal((await loadCheckpoint(dataLayout(dir)))?.offset, Buffer.byteLength(lines(recs)))
})

test('--order-key none: records of one number side by side', async (t) => {
  const dir = await tempDir(t)
  const recs = Array.from({ length: 20 }, (_, i) => reply(i, '+33600000001'))
  await writeSegment(dir, 1, lines(recs))
  let inFlight = 0
  let most = 0
  const url = await startServer(t, (_call, res) => {
    most = Math.max(most, ++inFlight)
    setTimeout(() => { inFlight--; res.end() }, 20)
  })
  const options = processorOptions(dir, { routes: [parseRoute(`*=${url}`)], concurrency: 4, orderKey: 'none' })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  assert.ok(most > 1, `one number side by side (at most ${most} at once)`)
})

test('low-water checkpoint: SIGKILL with slow records in flight, rerun: nothing skipped, redelivery within the window plus one batch', async (t) => {
  const dir = await tempDir(t)
  // Each record a number of its own: all may run side by side.
  const recs = Array.from({ length: 120 }, (_, i) => reply(i, `+3360000${String(i).padStart(4, '0')}`))
  const seg = await writeSegment(dir, 1, lines(recs))
  const slow = new Set([recs[5]!.id, recs[9]!.id])
  const firstRun: string[] = []
  let furthest = -1
  const url = await startServer(t, (call, res) => {
    furthest = Math.max(furthest, recs.findIndex((r) => r.id === call.id))
    // The two slow ones never answer: they are in flight when the CLI is killed.
    if (slow.has(call.id)) return
    setTimeout(() => { firstRun.push(call.id); res.end() }, 5)
  })
  const concurrency = 8
  const batchSize = 10
  const args = ['process', '--data-dir', dir, '--on', `*=${url}`, '--concurrency', String(concurrency), '--batch-size', String(batchSize), '--handler-timeout', '60s']
  const cli = runCli(args)
  t.after(() => killHard(cli))
  // Killed once the window stopped on the slow records and a checkpoint was saved.
  await waitFor('the window to fill behind the slow records', () => firstRun.length >= 30, 30_000)
  await waitFor('a checkpoint', async () => (await loadCheckpoint(dataLayout(dir))) !== undefined, 30_000)
  await new Promise((resolve) => setTimeout(resolve, 200))
  cli.child.kill('SIGKILL')
  await cli.exited
  const checkpoint = await loadCheckpoint(dataLayout(dir))
  const offsetOf = (i: number): number => Buffer.byteLength(lines(recs.slice(0, i)))
  assert.equal(checkpoint?.segment, seg)
  assert.ok(checkpoint.offset <= offsetOf(5), `the checkpoint (${checkpoint.offset}) is not past the oldest record in flight (${offsetOf(5)})`)
  // The reader stops at the window's span: 4 records per slot from the oldest one not done.
  assert.ok(furthest < 5 + 4 * concurrency, `record ${furthest} was started, past the window`)

  const second: string[] = []
  const rerun = await startServer(t, (call, res) => { second.push(call.id); res.end() })
  const options = processorOptions(dir, { routes: [parseRoute(`*=${rerun}`)], concurrency, batchSize })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  const seen = new Set([...firstRun, ...second])
  assert.deepEqual(recs.filter((r) => !seen.has(r.id)).map((r) => r.id), [], 'nothing skipped')
  const redelivered = second.filter((id) => firstRun.includes(id)).length
  assert.ok(redelivered <= 4 * concurrency + batchSize, `${redelivered} handed over again: within the window plus one batch`)
  assert.ok(redelivered > 0, 'records done past the oldest one in flight are handed over again')
})

test('tries exhausted while others are in flight: those finish, no new record starts, checkpoint before it, one attempt, exit 75', async (t) => {
  const dir = await tempDir(t)
  const recs = Array.from({ length: 30 }, (_, i) => reply(i, `+3360000${String(i).padStart(4, '0')}`))
  const seg = await writeSegment(dir, 1, lines(recs))
  const failing = recs[2]!.id
  const received: string[] = []
  const finished: string[] = []
  let healthy = false
  const url = await startServer(t, (call, res) => {
    received.push(call.id)
    if (healthy) return res.end()
    if (call.id === failing) {
      res.statusCode = 503
      return res.end('down')
    }
    // The records beside it take longer than its two tries.
    setTimeout(() => { finished.push(call.id); res.end() }, 400)
  })
  const options = processorOptions(dir, { routes: [parseRoute(`*=${url}`)], concurrency: 4, tries: 2, retryDelayMs: 20, maxAttempts: 5 })
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), EXIT_TEMPFAIL)
  // In flight when it failed: records 0, 1, 3 (the slots); they finished.
  assert.deepEqual([...finished].sort(), [recs[0]!.id, recs[1]!.id, recs[3]!.id].sort())
  assert.deepEqual(received.filter((id) => id !== failing).sort(), [...finished].sort(), 'no record started after the failure')
  const checkpoint = await loadCheckpoint(dataLayout(dir))
  assert.deepEqual([checkpoint?.segment, checkpoint?.offset], [seg, Buffer.byteLength(lines([recs[0]!, recs[1]!]))], 'just before the failed record')
  const attempts = JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')) as Record<string, { attempts: number }>
  assert.deepEqual(Object.keys(attempts), [failing])
  assert.equal(attempts[failing]!.attempts, 1)

  healthy = true
  received.length = 0
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  assert.deepEqual([...received].sort(), recs.slice(2).map((r) => r.id).sort(), 'the failed record and all after it, once')
  assert.deepEqual(JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')), {})
})

test('--concurrency and --order-key are checked like the other options', () => {
  const raw = { dataDir: '/tmp/x', providerTz: 'Europe/Paris', maxAttempts: '5', tries: '1', retryDelay: '1ms', handlerTimeout: '10s', batchSize: '100', retain: '7d', pollInterval: '250ms', retryPause: '5s' }
  assert.deepEqual([processOptionsFrom(raw).concurrency, processOptionsFrom(raw).orderKey], [32, 'number'])
  assert.deepEqual([processOptionsFrom({ ...raw, concurrency: '4', orderKey: 'message_id' }).concurrency, processOptionsFrom({ ...raw, orderKey: 'none' }).orderKey], [4, 'none'])
  assert.throws(() => processOptionsFrom({ ...raw, concurrency: '0' }), { code: 'SPOOL_ERR_CONFIG' })
  assert.throws(() => processOptionsFrom({ ...raw, orderKey: 'text' }), { code: 'SPOOL_ERR_CONFIG' })
})
