/**
 * A dead letter written while the disk fills up: the write comes back short, then fails. The
 * flush must fail (so the checkpoint does not move), leave no half line behind, and succeed in
 * full once there is room again.
 */
import assert from 'node:assert/strict'
import { readFile, rm, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { DeadLetterWriter, type DeadLetter } from '../../src/processor/dead-letters.js'
import { fillUp, mountSmallTmpfs } from '../helpers/tmpfs.js'
import { dataLayout } from '../../src/spool/layout.js'

const letter = (n: number, padding: number): DeadLetter => ({
  record: { v: 1, id: `id-${n}`, fields: { text: 'x'.repeat(padding) } },
  kind: 'reply',
  target: 'exec:false',
  error: 'exit 1',
  attempts: 5,
  failed_at: '2026-11-27T12:00:00.000Z',
})

test('a dead letter cut short by a full disk fails the flush and leaves no half line', async (t) => {
  const mnt = await mountSmallTmpfs(t)
  if (mnt === undefined) return
  const dataDir = join(mnt, 'data')
  const now = new Date('2026-11-27T12:00:00Z')
  const writer = new DeadLetterWriter(dataLayout(dataDir))
  writer.add(letter(1, 10))
  await writer.flush(now)
  const file = join(writer.dir, '2026-11-27.ndjson')
  const before = await readFile(file, 'utf8')
  assert.equal(before.split('\n').length, 2)

  const filler = await fillUp(mnt, 8 * 1024)
  const free = await statfs(mnt)
  const big = letter(2, 64 * 1024)
  // More than the room left, so the write must come back short before it fails.
  assert.ok(JSON.stringify(big).length > free.bavail * free.bsize, `${free.bavail * free.bsize} bytes free`)
  writer.add(big)
  await assert.rejects(writer.flush(now), { code: 'ENOSPC' })
  assert.equal(await readFile(file, 'utf8'), before, 'the file is back to its complete lines')

  await rm(filler)
  await writer.flush(now)
  const lines = (await readFile(file, 'utf8')).split('\n')
  assert.equal(lines.length, 3)
  assert.deepEqual(JSON.parse(lines[1]!), big)
  assert.equal(lines[2], '')
})
