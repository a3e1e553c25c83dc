import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { once } from 'node:events'
import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { runProcessCommand, retryPause, EXIT_TEMPFAIL } from '../../src/processor/run.js'
import { parseRoute } from '../../src/processor/dispatch.js'
import { PROCESS_DEFAULTS } from '../../src/processor/defaults.js'
import { readDeadLetters } from '../../src/processor/dead-letter-store.js'
import { retryDeadLetters } from '../../src/tools/dead.js'
import { tryAcquireLock } from '../../src/spool/lock.js'
import { tempDir } from '../helpers/tmp.js'
import { capturingLogger, silentLogger } from '../helpers/logger.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { processorOptions } from '../helpers/processor.js'
import { readNdjson } from '../helpers/ndjson.js'
import { dataLayout } from '../../src/spool/layout.js'

const noSignals = (): void => {}

/** A port nothing listens on: connections to it are refused. */
async function refusingPort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  server.close()
  await once(server, 'close')
  return port
}

test('a target that refuses connections is not dead-lettered by many passes in quick succession, only once it has failed for --dead-after', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const port = await refusingPort()
  const options = processorOptions(dir, { routes: [parseRoute(`delivery=http://127.0.0.1:${port}/hook`)], tries: 1, deadAfterMs: PROCESS_DEFAULTS.deadAfterMs })
  // As --follow does when new records keep waking it: pass after pass, far more than --max-attempts.
  // The warnings and errors of every pass, for the message of an assertion that fails.
  const { logger, lines: logged } = capturingLogger()
  const said = (): string => JSON.stringify(logged.filter((l) => !['info', 'debug', 'trace', 30, 20, 10].includes(l.level as string | number)))
  for (let i = 0; i < options.maxAttempts * 2; i++) {
    assert.equal(await runProcessCommand(options, logger, noSignals), EXIT_TEMPFAIL, said())
  }
  assert.deepEqual(await readDeadLetters(dataLayout(dir)), [], 'no dead letter within the time budget')
  const attempts = JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')) as Record<string, { first_failed_at: string, attempts: number }>
  const entry = Object.values(attempts)[0]!
  assert.equal(entry.attempts, options.maxAttempts * 2, said())
  // The budget spent: the first failure an hour and a second ago.
  entry.first_failed_at = new Date(Date.now() - 3_601_000).toISOString()
  await writeFile(join(dir, 'state', 'attempts.json'), JSON.stringify(attempts))
  assert.equal(await runProcessCommand(options, silentLogger(), noSignals), 0)
  const dead = await readDeadLetters(dataLayout(dir))
  assert.equal(dead.length, 1)
  assert.match(dead[0]!.letter.error, /ECONNREFUSED|connect/)
})

test('dead retry while a processor runs: a request under requeue/ that the running processor carries out at its next pass', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const refusing = processorOptions(dir, { routes: [parseRoute('delivery=exec:exit 65')] })
  assert.equal(await runProcessCommand(refusing, silentLogger(), noSignals), 0)
  assert.equal((await readDeadLetters(dataLayout(dir))).length, 1)
  // Another process holds the processor lock, as a running `process --follow` does.
  await mkdir(dir, { recursive: true })
  const lock = await tryAcquireLock(dataLayout(dir), 'processor')
  assert.ok(lock)
  const r = await retryDeadLetters(dataLayout(dir), undefined)
  assert.equal(r.deferred, true)
  assert.equal((await readDeadLetters(dataLayout(dir))).length, 1, 'the dead letter stays until the processor takes it')
  await lock.release()
  // The processor's next pass re-queues and dispatches it.
  assert.equal(await runProcessCommand(processorOptions(dir), silentLogger(), noSignals), 0)
  assert.deepEqual(await readDeadLetters(dataLayout(dir)), [])
  assert.equal((await readNdjson(join(dir, 'out', 'delivery.ndjson'))).length, 1)
})

test('--follow pauses after passes to retry: doubled each time, at most 2 min', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7, 30].map((n) => retryPause(5000, n)), [5000, 10_000, 20_000, 40_000, 80_000, 120_000, 120_000, 120_000])
  assert.equal(retryPause(300_000, 3), 300_000, 'a first pause longer than 2 min is kept')
})

test('--follow with a refusing http target and records arriving all the time: no dead letter within --dead-after', async (t) => {
  const dir = await tempDir(t)
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const port = await refusingPort()
  let stop: ((signal: NodeJS.Signals) => void) | undefined
  const options = { ...processorOptions(dir, { routes: [parseRoute(`delivery=http://127.0.0.1:${port}/hook`)], tries: 1, maxAttempts: 3, deadAfterMs: PROCESS_DEFAULTS.deadAfterMs }), follow: true, retryPauseMs: 100, pollIntervalMs: 50 }
  const run = runProcessCommand(options, silentLogger(), (handler) => { stop = handler })
  // New records every 50 ms for a while: each would wake the retry loop.
  let attempts = 0
  for (let seq = 2; seq < 80; seq++) {
    await writeSegment(dir, seq, lines([deliveryRecord(seq)]))
    await new Promise((resolve) => setTimeout(resolve, 50))
    try {
      attempts = Object.values(JSON.parse(await readFile(join(dir, 'state', 'attempts.json'), 'utf8')) as Record<string, { attempts: number }>)[0]?.attempts ?? 0
    } catch {}
    if (attempts >= options.maxAttempts && seq > 40) break
  }
  stop!('SIGTERM')
  assert.equal(await run, 0)
  assert.deepEqual(await readDeadLetters(dataLayout(dir)), [], 'a brief outage makes no dead letter')
})
