import { test } from 'node:test'
import assert from 'node:assert/strict'
import { open, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { killHard, startCliReceiver, type CliReceiver } from '../helpers/cli.js'
import { send } from '../helpers/http.js'
import { readRecords, readSpool } from '../helpers/spool.js'
import { mountSmallTmpfs } from '../helpers/tmpfs.js'

/** Writes to `path` until the file system is full; returns the bytes written. */
async function fillUp (path: string): Promise<number> {
  const fh = await open(path, 'w')
  let total = 0
  try {
    for (const size of [65536, 4096, 512, 1]) {
      const chunk = Buffer.alloc(size, 0x78)
      for (;;) {
        try {
          const { bytesWritten } = await fh.write(chunk)
          total += bytesWritten
          if (bytesWritten < size) break
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break
          throw err
        }
      }
    }
  } finally {
    await fh.close()
  }
  return total
}

test('disk full: 503 with Retry-After, never a 2xx for what is not written, stays up, 200 again once space is freed', async (t) => {
  let cli: CliReceiver | undefined
  // The receiver is stopped before the file system goes away.
  const mnt = await mountSmallTmpfs(t, async () => { if (cli !== undefined) await killHard(cli) })
  if (mnt === undefined) return
  const dataDir = join(mnt, 'data')
  const filler = join(mnt, 'filler')
  cli = await startCliReceiver(dataDir)

  const acked: string[] = []
  const padding = 'x'.repeat(900)
  let next = 0
  const callback = async (): Promise<{ status: number, retryAfter: unknown }> => {
    const id = `id-${next++}`
    assert.ok(cli !== undefined)
    const res = await send(cli.port, { body: `id=${id}&text=${padding}` })
    if (res.status >= 200 && res.status < 300) acked.push(id)
    return { status: res.status, retryAfter: res.headers['retry-after'] }
  }

  assert.equal((await callback()).status, 200)
  await fillUp(filler)
  // The spool's last page may still hold a few lines; keep sending until the disk refuses.
  let refused: { status: number, retryAfter: unknown } | undefined
  for (let i = 0; i < 200 && refused === undefined; i++) {
    const r = await callback()
    if (r.status !== 200) refused = r
  }
  assert.ok(refused !== undefined, 'no 503 although the disk is full')
  assert.equal(refused.status, 503)
  assert.equal(refused.retryAfter, '5')
  // Still full: still refused, and the receiver stays up, without an empty segment per refusal.
  const segmentsWhenFull = (await readSpool(dataDir)).segments.length
  for (let i = 0; i < 5; i++) assert.equal((await callback()).status, 503)
  assert.ok((await readSpool(dataDir)).segments.length <= segmentsWhenFull + 1, 'a new segment for each refused request')
  assert.equal((await send(cli.port, { method: 'HEAD' })).status, 200)
  assert.equal(cli.child.exitCode, null)

  // A restart while the disk is still full: it must come up and answer 503, not stay down.
  cli.child.kill('SIGTERM')
  assert.equal((await cli.exited).code, 0, cli.stderr())
  const firstLogs = cli.stdout()
  // Stopping freed the lock's small file: take that room too.
  await fillUp(filler + '2')
  cli = await startCliReceiver(dataDir)
  assert.equal((await callback()).status, 503)

  await unlink(filler)
  await unlink(filler + '2')
  const recovered = await callback()
  assert.equal(recovered.status, 200, 'not 200 right after space was freed')
  for (let i = 0; i < 5; i++) assert.equal((await callback()).status, 200)

  const ids = (await readRecords(dataDir)).map((r) => r.fields.id as string)
  assert.equal(new Set(ids).size, ids.length, 'a line spooled twice')
  for (const id of acked) assert.ok(ids.includes(id), `acknowledged ${id} is not in the spool`)
  assert.deepEqual(ids, acked, 'the spool holds exactly the acknowledged lines, in order')
  assert.deepEqual((await readSpool(dataDir)).torn, [])
  // The 503s are logged, but never with what the sender wrote.
  for (const logs of [firstLogs, cli.stdout()]) {
    assert.match(logs, /ENOSPC/)
    assert.doesNotMatch(logs, /xxxxxxxx|id-\d/)
  }
  t.diagnostic(`acknowledged ${acked.length} of ${next}; ${(await readSpool(dataDir)).segments.length} segments`)

  cli.child.kill('SIGTERM')
  assert.equal((await cli.exited).code, 0)
})
