import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { purgeNumber } from '../../src/tools/purge-number.js'
import { mountSmallTmpfs } from '../helpers/tmpfs.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { dataLayout } from '../../src/spool/layout.js'

const TARGET = '+33600112233'

test('purge on a full disk fails and leaves no temp copy of the lines it was erasing', async (t) => {
  const mnt = await mountSmallTmpfs(t)
  if (mnt === undefined) return
  const dataDir = join(mnt, 'data')
  // About 160 KiB of records in one segment: its rewritten copy cannot fit beside it in 256 KiB.
  const records = Array.from({ length: 200 }, (_, i) => recordWithFields({
    number: i % 10 === 0 ? TARGET : `+3361111${String(i).padStart(4, '0')}`,
    text: 'x'.repeat(200),
    reception_date: '2020-11-04 11:11:45',
  }))
  const name = await writeSegment(dataDir, 1, lines(records))
  const before = await readFile(join(dataDir, 'spool', name))
  assert.ok(before.length > 150 * 1024, `segment is ${before.length} bytes`)

  await assert.rejects(purgeNumber(dataLayout(dataDir), TARGET), (err: NodeJS.ErrnoException) => err.code === 'ENOSPC')
  assert.deepEqual((await readdir(join(dataDir, 'spool'))).filter((f) => f.includes('.tmp')), [])
  assert.ok((await readFile(join(dataDir, 'spool', name))).equals(before), 'the segment is unchanged')
})
