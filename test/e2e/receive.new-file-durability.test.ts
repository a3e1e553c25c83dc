/**
 * A file the processor creates (an output in out/, a dead-letter file in dead/) is only durable
 * once its directory is fsync'ed: checked at the system-call level with strace, before the
 * checkpoint moves past the records in it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BIN } from '../helpers/cli.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { parseStrace, skipWithoutStrace, type SyscallEvent } from '../helpers/strace.js'
import { tempDir } from '../helpers/tmp.js'

test('syscalls: a new out/ or dead/ file, and a new out/ or dead/ directory, is followed by an fsync of its directory before the checkpoint is saved', async (t) => {
  if (skipWithoutStrace(t, 'to watch the system calls')) return
  const dir = await tempDir(t)
  const dataDir = join(dir, 'data')
  const trace = join(dir, 'strace.log')
  // A record for out/delivery.ndjson and a line that is not a record, for a dead letter.
  await writeSegment(dataDir, 1, lines([deliveryRecord(1)]) + '{"not a record"}\n')
  const traced = spawn('strace', ['-f', '-qq', '-ttt', '-T', '-y', '-s', '4096', '-o', trace,
    '-e', 'trace=openat,mkdir,mkdirat,fsync,rename,renameat,renameat2',
    process.execPath, BIN, 'process', '--data-dir', dataDir], { stdio: 'ignore' })
  const [code] = await once(traced, 'close') as [number | null]
  assert.equal(code, 0)

  const events = parseStrace(await readFile(trace, 'utf8')).sort((a, b) => a.start - b.start)
  const checkpointSaved = events.find((e) => /^rename(at2?)?\(.*"[^"]*\/state\/checkpoint\.json"/.test(e.text) && / = 0/.test(e.text))
  assert.ok(checkpointSaved !== undefined, 'the checkpoint was saved')
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  const fsyncOf = (path: string, after: SyscallEvent): SyscallEvent | undefined =>
    events.find((e) => e.start >= after.end && new RegExp(`^fsync\\(\\d+<${escape(path)}>\\) = 0`).test(e.text))

  // The dead-letter file is named after the day (a pass may straddle midnight).
  for (const [sub, file] of [['out', escape('delivery.ndjson')], ['dead', '\\d{4}-\\d\\d-\\d\\d\\.ndjson']] as const) {
    const subDir = join(dataDir, sub)
    const made = events.find((e) => new RegExp(`^mkdir(at)?\\(.*"${escape(subDir)}"`).test(e.text) && / = 0/.test(e.text))
    assert.ok(made !== undefined, `${sub}/ was created`)
    const parentSynced = fsyncOf(dataDir, made)
    assert.ok(parentSynced !== undefined && parentSynced.end <= checkpointSaved.start, `the data dir is fsync'ed after ${sub}/ is made, before the checkpoint`)

    const created = events.find((e) => new RegExp(`^openat\\(.*"${escape(subDir)}/${file}", [^)]*O_CREAT`).test(e.text) && !/ = -1 /.test(e.text))
    assert.ok(created !== undefined, `${sub}/${file} was created`)
    const dirSynced = fsyncOf(subDir, created)
    assert.ok(dirSynced !== undefined, `${sub}/ is fsync'ed after ${file} is created`)
    assert.ok(dirSynced.end <= checkpointSaved.start, `${sub}/ is fsync'ed before the checkpoint is saved`)
  }
})
