import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect } from 'node:net'
import { tempDir } from '../helpers/tmp.js'
import { startWrappedReceiver } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { readRecords, readSpool } from '../helpers/spool.js'
import { skipWithoutStrace } from '../helpers/strace.js'

test('a failed fdatasync: 503, the segment is abandoned, the next request goes to a new segment', async (t) => {
  if (skipWithoutStrace(t, 'to inject the fdatasync error')) return
  const dir = await tempDir(t)
  // Only the writer's group commit calls fdatasync (directories and small files use fsync): the
  // second batch's sync fails with EIO, as a dying disk would.
  // strace counts calls per thread: one libuv worker thread makes the count the process's.
  const cli = await startWrappedReceiver(t,
    ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync', '-e', 'inject=fdatasync:error=EIO:when=2'],
    ['--data-dir', dir], { UV_THREADPOOL_SIZE: '1' })

  // A second, idle connection keeps the receiver on its group-commit path: with one connection
  // open it would sync on the main thread (see SpoolWriter.append), and strace counts per thread.
  const idle = connect(cli.port, '127.0.0.1')
  await once(idle, 'connect')
  t.after(() => { idle.destroy() })

  const statuses: number[] = []
  for (let i = 0; i < 6; i++) {
    const res = await send(cli.port, { body: `id=${i}` })
    statuses.push(res.status)
    if (res.status === 503) assert.equal(res.headers['retry-after'], '5')
  }
  const failed = statuses.indexOf(503)
  assert.ok(failed > 0, `statuses ${statuses.join(' ')}`)
  assert.deepEqual(statuses.filter((s) => s !== 200), [503], `statuses ${statuses.join(' ')}`)
  assert.equal((await send(cli.port, { method: 'HEAD' })).status, 200, 'the receiver stays up')

  const acked = statuses.flatMap((s, i) => s === 200 ? [String(i)] : [])
  const ids = (await readRecords(dir)).map((r) => r.fields.id as string)
  for (const id of acked) assert.equal(ids.filter((x) => x === id).length, 1, `acknowledged ${id}`)
  // Which segment holds which id.
  const { bySegment } = await readSpool(dir)
  const segmentOf = (id: number): string | undefined =>
    [...bySegment].find(([, lines]) => lines.some((l) => (JSON.parse(l) as { fields: { id: string } }).fields.id === String(id)))?.[0]
  const before = segmentOf(failed - 1)
  const after = segmentOf(failed + 1)
  assert.ok(before !== undefined && after !== undefined)
  assert.ok(after > before, `after the failed sync, ${after} should be a new segment after ${before}`)
  assert.equal(segmentOf(5), after)

  process.kill(cli.pid, 'SIGTERM')
  assert.equal((await cli.exited).code, 0)
})
