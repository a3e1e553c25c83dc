import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { startWrappedReceiver } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { readSpool } from '../helpers/spool.js'
import { parseStrace, skipWithoutStrace, type SyscallEvent } from '../helpers/strace.js'

/**
 * The receiver's promise, checked at the system-call level with strace: every 200 is written to
 * the socket only after the line it answers was written and fdatasync'ed, and each new segment
 * is followed by an fsync of the spool directory before it is written to.
 */
test('syscalls: each 200 follows the fdatasync of its line; a new segment is followed by a directory fsync', async (t) => {
  if (skipWithoutStrace(t, 'to watch the system calls')) return
  const dir = await tempDir(t)
  const trace = join(dir, 'strace.log')
  const dataDir = join(dir, 'data')
  const cli = await startWrappedReceiver(t,
    ['strace', '-f', '-qq', '-ttt', '-T', '-y', '-s', '40', '-o', trace, '-e', 'trace=openat,fsync,fdatasync,write,writev'],
    ['--data-dir', dataDir, '--rotate-bytes', '4KiB'])

  // Bodies of one length, so every spool line has the same length.
  const sequential = 6
  const concurrent = 32
  for (let i = 0; i < sequential; i++) assert.equal((await send(cli.port, { body: `id=s${String(i).padStart(2, '0')}` })).status, 200)
  const answers = await Promise.all(Array.from({ length: concurrent }, (_, i) => send(cli.port, { body: `id=c${String(i).padStart(2, '0')}` })))
  assert.ok(answers.every((a) => a.status === 200))
  process.kill(cli.pid, 'SIGTERM')
  assert.equal((await cli.exited).code, 0)

  const { lines, segments } = await readSpool(dataDir)
  const total = sequential + concurrent
  assert.equal(lines.length, total)
  const lineBytes = Buffer.byteLength(lines[0]!) + 1
  assert.ok(lines.every((l) => Buffer.byteLength(l) + 1 === lineBytes))
  assert.ok(segments.length >= 2, 'rotation made more than one segment')

  const events = parseStrace(await readFile(trace, 'utf8'))
  const isSegment = (e: SyscallEvent, call: string): RegExpExecArray | null =>
    new RegExp(`^${call}\\(\\d+<([^>]*/spool/[^>]+\\.ndjson)>`).exec(e.text)
  const created = events.filter((e) => /^openat\(.*\/spool\/[^"]+\.ndjson", [^)]*O_CREAT/.test(e.text))
  const dirSyncs = events.filter((e) => /^fsync\(\d+<[^>]*\/spool>\) = 0/.test(e.text))
  const writes = events.filter((e) => isSegment(e, 'write') !== null)
  const syncs = events.filter((e) => isSegment(e, 'fdatasync') !== null && / = 0/.test(e.text))
  const responses = events.filter((e) => /^writev?\(\d+<socket:/.test(e.text) && e.text.includes('HTTP/1.1 200')).sort((a, b) => a.start - b.start)

  assert.equal(responses.length, total, 'one 200 written per request')
  assert.equal(created.length, segments.length)
  // Group commit: the concurrent requests shared syncs.
  assert.ok(syncs.length < total, `${syncs.length} fdatasyncs for ${total} requests`)

  // Lines made durable by time t: the bytes written to a segment before a sync of it that returned by t.
  const durableLinesAt = (t: number): number => {
    let bytes = 0
    for (const w of writes) {
      const path = isSegment(w, 'write')![1]
      const synced = syncs.some((s) => isSegment(s, 'fdatasync')![1] === path && s.start >= w.end && s.end <= t)
      if (synced) bytes += Number(/= (\d+)/.exec(w.text.slice(w.text.lastIndexOf(')')))![1])
    }
    assert.equal(bytes % lineBytes, 0, 'whole lines only')
    return bytes / lineBytes
  }
  responses.forEach((r, i) => {
    const durable = durableLinesAt(r.start)
    assert.ok(i + 1 <= durable, `200 number ${i + 1} was written when only ${durable} lines were durable`)
  })

  // Each new segment: created, then the spool directory fsync'ed, before its first write.
  for (const c of created) {
    const path = /"([^"]+)"/.exec(c.text)![1]!
    const firstWrite = writes.find((w) => isSegment(w, 'write')![1] === path)
    if (firstWrite === undefined) continue
    assert.ok(dirSyncs.some((d) => d.start >= c.end && d.end <= firstWrite.start), `no directory fsync between creating and writing ${path}`)
  }
})
