/**
 * Dead letters added while a flush is running (the processor commits in the background while the
 * next batch is dispatched) are kept for the next flush: none lost, none written twice.
 */
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { DeadLetterWriter, type DeadLetter } from '../../src/processor/dead-letters.js'
import { tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

const letter = (n: number): DeadLetter => ({
  record: `line ${n}`,
  kind: null,
  target: null,
  error: 'invalid JSON',
  attempts: 0,
  failed_at: '2026-11-27T12:00:00.000Z',
})

test('a flush writes what was added before it; what is added while it runs goes with the next one', async (t) => {
  const dir = await tempDir(t)
  const writer = new DeadLetterWriter(dataLayout(dir))
  const now = new Date('2026-11-27T12:00:00.000Z')
  writer.add(letter(1))
  writer.add(letter(2))
  const first = writer.flush(now)
  writer.add(letter(3))
  await first
  const file = join(dir, 'dead', '2026-11-27.ndjson')
  const records = async (): Promise<unknown[]> => (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l).record)
  assert.deepEqual(await records(), ['line 1', 'line 2'])
  await writer.flush(now)
  assert.deepEqual(await records(), ['line 1', 'line 2', 'line 3'])
  await writer.flush(now)
  assert.deepEqual(await records(), ['line 1', 'line 2', 'line 3'])
})
