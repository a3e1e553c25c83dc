/**
 * Commit delay (PostgreSQL's commit_delay with commit_siblings): after a large batch on a slow
 * disk, the next batch waits a moment for the clients just answered, instead of syncing a few
 * lines alone while the rest queue behind it. The thresholds are lowered here so the behaviour
 * shows on a fast disk; the defaults only act when a sync takes 2 ms or more.
 */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { SpoolWriter, type CommitDelay } from '../../src/spool/writer.js'
import { tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

const logger = pino({ level: 'silent' })
const line = (n: number): string => `{"n":${n}}\n`

async function openWriter (dataDir: string, commitDelay: Partial<CommitDelay>, durability: 'fsync' | 'os' = 'fsync'): Promise<{ writer: SpoolWriter, sizes: number[] }> {
  const writer = await SpoolWriter.open({ layout: dataLayout(dataDir), durability, logger, commitDelay })
  const sizes: number[] = []
  writer.stats.onBatch = (records) => { sizes.push(records) }
  return { writer, sizes }
}

async function spooledLines (dataDir: string): Promise<string[]> {
  const [segment] = (await readdir(join(dataDir, 'spool'))).filter((n) => n.endsWith('.ndjson'))
  return (await readFile(join(dataDir, 'spool', segment!), 'utf8')).split('\n').filter((l) => l !== '')
}

test('after a large batch the clients that come back share one batch instead of one going alone', async (t) => {
  const dataDir = await tempDir(t)
  const { writer, sizes } = await openWriter(dataDir, { minSyncMs: 0, siblings: 3, maxWaitMs: 5000 })

  const first = writer.append(line(0))
  const during = [1, 2, 3].map((n) => writer.append(line(n)))
  await Promise.all([first, ...during])
  assert.deepEqual(sizes, [1, 3])
  // The three just answered "come back": without the delay the first of them would be synced
  // alone (no sync in flight) and the other two behind it, [1, 2].
  const comeBack = [4, 5, 6].map((n) => writer.append(line(n)))
  await Promise.all(comeBack)
  assert.deepEqual(sizes, [1, 3, 3])
  await writer.close()
  assert.deepEqual(await spooledLines(dataDir), [0, 1, 2, 3, 4, 5, 6].map((n) => line(n).trimEnd()))
})

test('the wait ends after maxWaitMs when fewer clients come back', { timeout: 10_000 }, async (t) => {
  const dataDir = await tempDir(t)
  const { writer, sizes } = await openWriter(dataDir, { minSyncMs: 0, siblings: 2, maxWaitMs: 30 })
  await Promise.all([0, 1, 2].map((n) => writer.append(line(n))))
  assert.deepEqual(sizes, [1, 2])
  // Two were answered, so the next batch waits for two lines; one comes, and goes after the wait.
  await writer.append(line(3))
  assert.deepEqual(sizes, [1, 2, 1])
  await writer.close()
  assert.equal((await spooledLines(dataDir)).length, 4)
})

test('a small batch, a fast disk or --durability os never delays the next line', async (t) => {
  for (const [label, commitDelay, durability] of [
    ['batch under siblings', { minSyncMs: 0, siblings: 100, maxWaitMs: 60_000 }, 'fsync'],
    ['sync faster than minSyncMs', { minSyncMs: 60_000, siblings: 1, maxWaitMs: 60_000 }, 'fsync'],
    ['durability os', { minSyncMs: 0, siblings: 1, maxWaitMs: 60_000 }, 'os'],
  ] as const) {
    const dataDir = await tempDir(t)
    const { writer, sizes } = await openWriter(dataDir, commitDelay, durability)
    await Promise.all([0, 1, 2, 3].map((n) => writer.append(line(n))))
    // With a one-minute wait, this line would hang the test if it were delayed.
    await writer.append(line(4))
    assert.deepEqual(sizes, [1, 3, 1], label)
    await writer.close()
  }
})

test('close() ends a wait at once and commits what is pending', { timeout: 10_000 }, async (t) => {
  const dataDir = await tempDir(t)
  const { writer, sizes } = await openWriter(dataDir, { minSyncMs: 0, siblings: 2, maxWaitMs: 60_000 })
  await Promise.all([0, 1, 2].map((n) => writer.append(line(n))))
  assert.deepEqual(sizes, [1, 2])
  const waiting = writer.append(line(3))
  await writer.close()
  await waiting
  assert.deepEqual(sizes, [1, 2, 1])
  assert.equal((await spooledLines(dataDir)).length, 4)
})
