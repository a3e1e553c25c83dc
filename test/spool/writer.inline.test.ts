/**
 * A line the caller says is alone (the receiver's only open connection) is written and
 * fdatasync'ed on the main thread, before append() returns, when nothing else is in flight and
 * the disk is fast; otherwise it goes through group commit as usual.
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { readdir, readFile } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { test } from 'node:test'
import { pino } from 'pino'
import { createReceiver, type LineAppender } from '../../src/receiver/server.js'
import { SpoolWriter } from '../../src/spool/writer.js'
import { tempDir } from '../helpers/tmp.js'
import { dataLayout } from '../../src/spool/layout.js'

const logger = pino({ level: 'silent' })
const line = (n: number): string => `{"n":${n}}\n`

async function spooled (dataDir: string): Promise<string> {
  const names = (await readdir(join(dataDir, 'spool'))).filter((n) => n.endsWith('.ndjson')).sort()
  let text = ''
  for (const name of names) text += await readFile(join(dataDir, 'spool', name), 'utf8')
  return text
}

test('an alone line on an idle writer is durable before append() returns', async (t) => {
  const dataDir = await tempDir(t)
  // minSyncMs: no sync counts as slow, whatever this machine's disk does.
  const writer = await SpoolWriter.open({ layout: dataLayout(dataDir), logger, commitDelay: { minSyncMs: Number.POSITIVE_INFINITY } })
  const appended = writer.append(line(0), true)
  // Not awaited yet: the line is already in the file.
  assert.equal(await spooled(dataDir), line(0))
  await appended
  await writer.append(line(1), true)
  assert.equal(writer.stats.inlineCommits, 2)
  assert.equal(writer.stats.records, 2)
  await writer.close()
  assert.equal(await spooled(dataDir), line(0) + line(1))
})

test('alone goes through group commit while a commit is in flight, on a slow disk, or when the segment must rotate', async (t) => {
  const dataDir = await tempDir(t)
  const writer = await SpoolWriter.open({ layout: dataLayout(dataDir), logger, rotateBytes: 20, commitDelay: { minSyncMs: Number.POSITIVE_INFINITY } })
  const first = writer.append(line(0))
  await Promise.all([first, writer.append(line(1), true)])
  assert.equal(writer.stats.inlineCommits, 0, 'a commit was in flight')
  // 8 + 8 bytes so far: a third line would pass rotateBytes, so it takes the usual way and rotates.
  await writer.append(line(2), true)
  assert.equal(writer.stats.inlineCommits, 0, 'the segment had to rotate')
  await writer.close()
  assert.equal((await readdir(join(dataDir, 'spool'))).filter((n) => n.endsWith('.ndjson')).length, 2)
  assert.equal(await spooled(dataDir), line(0) + line(1) + line(2))

  const slowDir = await tempDir(t)
  const slow = await SpoolWriter.open({ layout: dataLayout(slowDir), logger, commitDelay: { minSyncMs: 0 } })
  for (let n = 0; n < 3; n++) await slow.append(line(n), true)
  assert.equal(slow.stats.inlineCommits, 0, 'every sync counts as slow')
  await slow.close()
})

test('the receiver says alone only while it has one connection open', { timeout: 10_000 }, async (t) => {
  const seen: boolean[] = []
  const spool: LineAppender = { append: async (_line, alone) => { seen.push(alone === true) } }
  const server = createReceiver({ spool, logger })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.after(() => {
    agent.destroy()
    server.closeAllConnections()
    server.close()
  })
  const post = (): Promise<number> => new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end('id=1')
  })
  assert.equal(await post(), 200)
  assert.equal(await post(), 200)
  const accepted = once(server, 'connection')
  const other = connect(port, '127.0.0.1')
  await accepted
  assert.equal(await post(), 200)
  other.destroy()
  assert.deepEqual(seen, [true, true, false])
})
