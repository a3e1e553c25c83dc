/** BacklogCounter: the same figures as a fresh count, while reading only what it has not read yet. */
import assert from 'node:assert/strict'
import { unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { BacklogCounter, computeBacklog } from '../../src/spool/backlog.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { appendSegment, writeSegment } from '../helpers/spool.js'
import { tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

test('repeated counts match a fresh count and read only the position\'s segment and what was appended', async (t) => {
  const dir = await tempDir(t)
  const old = new Date(Date.now() - 120_000)
  const seg1 = lines([deliveryRecord(1, old), deliveryRecord(2)])
  const seg2 = lines([deliveryRecord(3), deliveryRecord(4), deliveryRecord(5)])
  const a = await writeSegment(dir, 1, seg1)
  const b = await writeSegment(dir, 2, seg2)
  const counter = new BacklogCounter(dataLayout(dir))
  const at = { segment: a, offset: Buffer.byteLength(lines([deliveryRecord(1, old)])) }
  const now = Date.now()

  const first = await counter.measure(at, now)
  assert.deepEqual(first, await computeBacklog(dataLayout(dir), at, now))
  assert.equal(first.records, 4)
  assert.equal(first.bytes, Buffer.byteLength(seg1) - at.offset + Buffer.byteLength(seg2))

  // A handler is down: the same position, counted again after each failed pass.
  const readBefore = counter.bytesRead
  assert.deepEqual(await counter.measure(at, now), first)
  assert.equal(counter.bytesRead - readBefore, Buffer.byteLength(seg1) - at.offset, 'only the position\'s own segment is read again')

  // The receiver appends: only the new line is read, and the figures follow.
  const more = lines([deliveryRecord(6)])
  await appendSegment(dir, b, more)
  const readBeforeAppend = counter.bytesRead
  const grown = await counter.measure(at, now)
  assert.deepEqual(grown, await computeBacklog(dataLayout(dir), at, now))
  assert.equal(grown.records, 5)
  assert.equal(counter.bytesRead - readBeforeAppend, Buffer.byteLength(seg1) - at.offset + Buffer.byteLength(more))

  // The position moves into the second segment (counted from its start before): a fresh count agrees.
  const inB = { segment: b, offset: Buffer.byteLength(lines([deliveryRecord(3)])) }
  assert.deepEqual(await counter.measure(inB, now), await computeBacklog(dataLayout(dir), inB, now))
  // A new segment, and the first one deleted by retention.
  await writeSegment(dir, 3, lines([deliveryRecord(7)]))
  await unlink(join(dir, 'spool', a))
  const start = { segment: b, offset: 0 }
  const afterRetention = await counter.measure(start, now)
  assert.deepEqual(afterRetention, await computeBacklog(dataLayout(dir), start, now))
  assert.equal(afterRetention.records, 5)
  assert.deepEqual(await counter.measure(undefined, now), await computeBacklog(dataLayout(dir), undefined, now))
})

test('a segment that shrank (rewritten by purge) is counted again from its start', async (t) => {
  const dir = await tempDir(t)
  const a = await writeSegment(dir, 1, lines([deliveryRecord(1), deliveryRecord(2), deliveryRecord(3)]))
  const counter = new BacklogCounter(dataLayout(dir))
  assert.equal((await counter.measure(undefined)).records, 3)
  await unlink(join(dir, 'spool', a))
  await writeSegment(dir, 1, lines([deliveryRecord(1)]))
  const after = await counter.measure(undefined)
  assert.equal(after.records, 1)
  assert.deepEqual(after, await computeBacklog(dataLayout(dir), undefined, Date.now()).then((b) => ({ ...b, oldestAgeMs: after.oldestAgeMs })))
})
