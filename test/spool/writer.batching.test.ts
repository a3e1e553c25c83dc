/** Group commit: a lone line goes out at once; lines that arrive during a commit share the next. */
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { SpoolWriter } from '../../src/spool/writer.js'
import { tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

for (const durability of ['fsync', 'os'] as const) {
  test(`${durability}: the first line is committed alone, the ten that follow during its commit share one batch`, async (t) => {
    const dataDir = await tempDir(t)
    const writer = await SpoolWriter.open({ layout: dataLayout(dataDir), durability, logger: pino({ level: 'silent' }) })
    const sizes: number[] = []
    writer.stats.onBatch = (records) => { sizes.push(records) }

    const appends = [writer.append('{"n":0}\n')]
    for (let n = 1; n <= 10; n++) appends.push(writer.append(`{"n":${n}}\n`))
    await Promise.all(appends)
    // A batch timer would have put all eleven in one batch; waiting for nothing puts the first alone.
    assert.deepEqual(sizes, [1, 10])

    await writer.append('{"n":11}\n')
    assert.deepEqual(sizes, [1, 10, 1])
    await writer.close()
    const [segment] = (await readdir(join(dataDir, 'spool'))).filter((n) => n.endsWith('.ndjson'))
    const lines = (await readFile(join(dataDir, 'spool', segment!), 'utf8')).split('\n')
    assert.deepEqual(lines, [...Array.from({ length: 12 }, (_, n) => `{"n":${n}}`), ''])
  })
}
