/**
 * A commit that fails while the next batch is dispatched (every target a file: the commit runs in
 * the background): the pass fails, and what reaches the output past the checkpoint stays within
 * one batch. The failure is an fdatasync refused with EIO by strace, on the real CLI.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.js'
import { lines, recordWithFields } from '../helpers/records.js'
import { writeSegment } from '../helpers/spool.js'
import { skipWithoutStrace } from '../helpers/strace.js'
import { tempDir } from '../helpers/tmp.js'

test('a failed background commit: the output past the checkpoint is one batch, not two', async (t) => {
  if (skipWithoutStrace(t, 'to make an fdatasync fail')) return
  const dir = await tempDir(t)
  const batchSize = 1000
  const recs = Array.from({ length: 10_000 }, (_, i) => recordWithFields({
    message_id: `m${i}`, number: '+33600000001', status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45',
  }))
  await writeSegment(dir, 1, lines(recs))
  const out = join(dir, 'all.ndjson')
  const args = ['process', '--data-dir', dir, '--on', `*=file:${out}`, '--batch-size', String(batchSize)]

  // From the third fdatasync of each thread on, EIO: a commit fails part-way through the spool.
  const failing = runCli(args, {}, ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync', '-e', 'inject=fdatasync:error=EIO:when=3+'])
  assert.equal((await failing.exited).code, 75, failing.stdout() + failing.stderr())
  const handedOver = (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '').length
  assert.ok(handedOver < recs.length, `the commit failed part-way (${handedOver} of ${recs.length})`)

  const again = runCli(args)
  assert.equal((await again.exited).code, 0, again.stderr())
  const ids = (await readFile(out, 'utf8')).split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { id: string }).id)
  const seen = new Set<string>()
  const twice = ids.filter((id) => seen.has(id) || (seen.add(id), false))
  assert.equal(seen.size, recs.length, 'every record')
  assert.ok(twice.length <= batchSize, `${twice.length} records handed over twice: more than one batch (${batchSize})`)
  // What the failed pass left, then the second pass from the checkpoint on, each in spool order.
  assert.deepEqual(ids.slice(0, handedOver), recs.slice(0, handedOver).map((r) => r.id))
  const second = ids.slice(handedOver)
  assert.deepEqual(second, recs.slice(recs.length - second.length).map((r) => r.id))
})
