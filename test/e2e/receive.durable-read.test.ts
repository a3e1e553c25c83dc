/**
 * The processor reads only what the receiver acknowledged: nothing written but not yet synced,
 * nothing whose sync failed (answered 503), and, once the receiver is gone, what survived it.
 */
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { appendFile, mkdir, readdir, readFile, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { tempDir } from '../helpers/tmp.js'
import { killHard, runCli, startCliReceiver, startWrappedReceiver, type CliReceiver } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { readSpool, writeSegment } from '../helpers/spool.js'
import { skipWithoutStrace } from '../helpers/strace.js'
import { waitFor } from '../helpers/wait.js'
import { readLines } from '../../src/spool/reader.js'
import { DurableLengthPublisher } from '../../src/spool/durable-length.js'
import { recordRefused } from '../../src/spool/refused.js'
import { purgeNumber } from '../../src/tools/purge-number.js'
import { loadCheckpoint } from '../../src/spool/checkpoint.js'
import { dataLayout } from '../../src/spool/layout.js'

/** Every handled or dead-lettered line, as text. */
async function dispatched (dataDir: string): Promise<string> {
  let text = ''
  for (const sub of ['out', 'dead']) {
    const dir = join(dataDir, sub)
    const names = await readdir(dir).catch(() => [] as string[])
    for (const name of names) text += await readFile(join(dir, name), 'utf8')
  }
  return text
}

async function processOnce (dataDir: string): Promise<void> {
  const pass = runCli(['process', '--data-dir', dataDir])
  assert.equal((await pass.exited).code, 0, pass.stderr())
}

async function spoolBytes (dataDir: string): Promise<number> {
  const { spool } = dataLayout(dataDir)
  let total = 0
  for (const name of (await readSpool(dataDir)).segments) total += (await stat(join(spool, name))).size
  return total
}

/**
 * A second connection keeps the receiver on its group-commit path: with one connection open it
 * would sync on the main thread (see SpoolWriter.append), and strace counts calls per thread. It
 * sends a HEAD now and then, so that no timeout for idle connections closes it.
 */
async function holdSecondConnection (t: TestContext, cli: CliReceiver): Promise<void> {
  const second = connect(cli.port, '127.0.0.1')
  second.on('error', () => {})
  await once(second, 'connect')
  second.resume()
  const ping = (): void => { second.write('HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n') }
  ping()
  const timer = setInterval(ping, 500)
  t.after(() => {
    clearInterval(timer)
    second.destroy()
  })
}

test('a pass running while a line is written but not yet synced does not dispatch it', async (t) => {
  if (skipWithoutStrace(t, 'to delay the fdatasync')) return
  const dir = await tempDir(t)
  const dataDir = join(dir, 'data')
  // The first fdatasync runs at once; each later one waits 30 s before it starts: the line it
  // covers is in the segment (the page cache) meanwhile, neither durable nor answered.
  // One libuv worker thread makes strace's per-thread count the process's.
  const cli = await startWrappedReceiver(t,
    ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync', '-e', 'inject=fdatasync:delay_enter=30000000:when=2+'],
    ['--data-dir', dataDir], { UV_THREADPOOL_SIZE: '1' })
  await holdSecondConnection(t, cli)

  assert.equal((await send(cli.port, { body: 'id=acknowledged-1' })).status, 200)
  const durable = await spoolBytes(dataDir)
  let answered = false
  const pending = send(cli.port, { body: 'id=unsynced-2', timeoutMs: 120_000 })
  pending.then(() => { answered = true }, () => {})
  await waitFor('the second line written', async () => await spoolBytes(dataDir) > durable, 20_000)

  await processOnce(dataDir)
  assert.equal(answered, false, 'the delayed sync ended before the pass did: nothing was shown')
  const first = await dispatched(dataDir)
  assert.match(first, /acknowledged-1/)
  assert.doesNotMatch(first, /unsynced-2/, 'a line that was not durable, nor answered, was dispatched')
  const checkpoint = await loadCheckpoint(dataLayout(dataDir))
  assert.ok(checkpoint !== undefined && checkpoint.offset <= durable, `the checkpoint ${JSON.stringify(checkpoint)} is past the ${durable} synced bytes`)

  // Once synced and answered, the next pass takes it.
  assert.equal((await pending).status, 200)
  await processOnce(dataDir)
  assert.match(await dispatched(dataDir), /unsynced-2/)
})

/**
 * A receiver whose first fdatasync succeeds and every later one fails with EIO (and, with
 * `failCuts`, every ftruncate too); returns the statuses of `count` callbacks, sent one at a time
 * through group commit, or with `inline` alone (synced on the main thread).
 */
async function underPersistentEio (t: TestContext, dataDir: string, count: number, failCuts = false, inline = false): Promise<number[]> {
  const inject = ['-e', 'inject=fdatasync:error=EIO:when=2+', ...(failCuts ? ['-e', 'inject=ftruncate:error=EIO'] : [])]
  const cli = await startWrappedReceiver(t,
    ['strace', '-f', '-qq', '-o', '/dev/null', '-e', `trace=fdatasync${failCuts ? ',ftruncate' : ''}`, ...inject],
    ['--data-dir', dataDir], { UV_THREADPOOL_SIZE: '1' })
  if (!inline) await holdSecondConnection(t, cli)
  const statuses: number[] = []
  for (let i = 0; i < count; i++) statuses.push((await send(cli.port, { body: `id=callback-${i}-end` })).status)
  assert.equal((await send(cli.port, { method: 'HEAD' })).status, 200, 'the receiver stays up')
  return statuses
}

for (const inline of [false, true]) {
  test(`lines answered 503 because their sync failed are never dispatched (${inline ? 'a lone connection, synced on the main thread' : 'group commit'})`, async (t) => {
    if (skipWithoutStrace(t, 'to inject the fdatasync error')) return
    const dataDir = join(await tempDir(t), 'data')
    const statuses = await underPersistentEio(t, dataDir, 12, false, inline)
    // strace counts syncs per thread, and which thread syncs depends on the path each request
    // took: the first one or two are acknowledged, nearly all the others refused.
    assert.ok(statuses.every((s) => s === 200 || s === 503), statuses.join(' '))
    assert.ok(statuses.filter((s) => s === 503).length >= 9, statuses.join(' '))

    await processOnce(dataDir)
    const out = await dispatched(dataDir)
    statuses.forEach((status, i) => {
      if (status === 200) assert.match(out, new RegExp(`callback-${i}-end`), `acknowledged callback ${i} was not dispatched`)
      else assert.doesNotMatch(out, new RegExp(`callback-${i}-end`), `callback ${i} was answered 503 and dispatched`)
    })
  })
}

test('a disk whose syncs keep failing does not get a new segment per refused batch', async (t) => {
  if (skipWithoutStrace(t, 'to inject the fdatasync error')) return
  const dataDir = join(await tempDir(t), 'data')
  const statuses = await underPersistentEio(t, dataDir, 30)
  assert.equal(statuses.filter((s) => s === 503).length, 29)
  const { segments } = await readSpool(dataDir)
  // The first segment (abandoned after the first failure) and one more for the whole spell.
  assert.ok(segments.length <= 2, `${segments.length} segments for 29 refused callbacks`)
})

test('refused lines that cannot be cut off are recorded and never dispatched; the failing disk gets few segments', async (t) => {
  if (skipWithoutStrace(t, 'to inject the fdatasync and ftruncate errors')) return
  const dataDir = join(await tempDir(t), 'data')
  const started = Date.now()
  const statuses = await underPersistentEio(t, dataDir, 30, true)
  const elapsedMs = Date.now() - started
  assert.deepEqual(statuses, [200, ...Array<number>(29).fill(503)])
  const { segments, lines } = await readSpool(dataDir)
  assert.ok(lines.length > 1, 'the refused lines stayed in the spool (the cut failed)')
  // Two at once, then one after 0.1 s, 0.2 s, 0.4 s...: at most a few more than log2 of the time.
  const bound = 3 + Math.ceil(Math.log2(1 + elapsedMs / 100))
  assert.ok(segments.length <= bound, `${segments.length} segments in ${elapsedMs} ms for 29 refused callbacks`)

  await processOnce(dataDir)
  const out = await dispatched(dataDir)
  assert.match(out, /callback-0-end/)
  for (let i = 1; i < statuses.length; i++) assert.doesNotMatch(out, new RegExp(`callback-${i}-end`), `callback ${i} was answered 503 and dispatched`)
})

test('past what the receiver published, the newest segment is read only once the receiver is gone', async (t) => {
  const dataDir = join(await tempDir(t), 'data')
  const cli = await startCliReceiver(dataDir)
  t.after(() => killHard(cli))
  assert.equal((await send(cli.port, { body: 'id=acknowledged-1' })).status, 200)
  const { spool } = dataLayout(dataDir)
  const newest = (await readSpool(dataDir)).segments.at(-1)!
  // A line written but never acknowledged (as when the receiver dies before its sync returns).
  const unacknowledged = (await readFile(join(spool, newest), 'utf8')).replace('acknowledged-1', 'written-2')
  await appendFile(join(spool, newest), unacknowledged)

  const read = async (): Promise<string[]> => {
    const lines: string[] = []
    for await (const l of readLines(dataLayout(dataDir), undefined)) lines.push(l.line)
    return lines
  }
  const live = await read()
  assert.equal(live.length, 1, 'read past the acknowledged length while the receiver runs')
  assert.match(live[0]!, /acknowledged-1/)

  await killHard(cli)
  // Gone: what is on disk is what survived, and no receiver appends to that segment again.
  const gone = await read()
  assert.equal(gone.length, 2)
  assert.match(gone[1]!, /written-2/)
})

test('the reader stops the newest segment at the published length and any segment at its refused offset', async (t) => {
  const dataDir = await tempDir(t)
  const { spool } = dataLayout(dataDir)
  const line = (id: string): string => JSON.stringify({ id }) + '\n'
  const first = await writeSegment(dataDir, 1, line('a1') + line('a2-refused'))
  const newest = await writeSegment(dataDir, 2, line('b1') + line('b2') + line('b3-unsynced'))
  await recordRefused(spool, first, Buffer.byteLength(line('a1')))
  // A live writer (this process) published two lines of the newest segment.
  const publisher = DurableLengthPublisher.open(spool)
  t.after(() => publisher.close())
  publisher.publish(newest, Buffer.byteLength(line('b1') + line('b2')))

  const read = async (onLine: (ids: string[]) => void = () => {}): Promise<string[]> => {
    const ids: string[] = []
    for await (const l of readLines(dataLayout(dataDir), undefined)) {
      ids.push((JSON.parse(l.line) as { id: string }).id)
      onLine(ids)
    }
    return ids
  }
  assert.deepEqual(await read(), ['a1', 'b1', 'b2'])
  // Published further while a reader stands at the limit: it reads on.
  const further = await read((ids) => {
    if (ids.length === 3) publisher.publish(newest, Buffer.byteLength(line('b1') + line('b2') + line('b3-unsynced')))
  })
  assert.deepEqual(further, ['a1', 'b1', 'b2', 'b3-unsynced'])
})

test('purge moves where refused lines begin along with the offsets', async (t) => {
  const dataDir = await tempDir(t)
  for (const sub of ['spool', 'state', 'dead', 'out', 'quarantine', 'requeue']) await mkdir(join(dataDir, sub), { recursive: true })
  const { spool } = dataLayout(dataDir)
  const record = (id: string, number: string): string => JSON.stringify({ v: 1, id, fields: { number } }) + '\n'
  const erased = record('a-erased, and longer than the refused line', '+33600112233')
  const kept = record('b-kept', '+33700998877')
  const sealed = await writeSegment(dataDir, 1, erased + kept + record('c-refused', '+33700998877'))
  await writeSegment(dataDir, 2, record('d-newest', '+33700998877'))
  await recordRefused(spool, sealed, Buffer.byteLength(erased + kept))

  const report = await purgeNumber(dataLayout(dataDir), '+33600112233')
  assert.equal(report.spool.removed, 1)
  const ids: string[] = []
  for await (const l of readLines(dataLayout(dataDir), undefined)) ids.push((JSON.parse(l.line) as { id: string }).id)
  assert.deepEqual(ids, ['b-kept', 'd-newest'])
})
