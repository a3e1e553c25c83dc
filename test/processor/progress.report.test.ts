import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ProgressBar } from '../../src/processor/progress.js'

test('progress bar: only on a terminal, only for a large backlog', () => {
  const tty = { isTTY: true } as unknown as NodeJS.WriteStream
  const pipe = { isTTY: false } as unknown as NodeJS.WriteStream
  assert.ok(ProgressBar.maybe(64 * 1024 * 1024, 16 * 1024 * 1024, tty) instanceof ProgressBar)
  assert.equal(ProgressBar.maybe(64 * 1024 * 1024, 16 * 1024 * 1024, pipe), undefined)
  assert.equal(ProgressBar.maybe(1024, 16 * 1024 * 1024, tty), undefined)
})

test('progress bar: redraws at most every 200 ms, ends with a newline', () => {
  const written: string[] = []
  const bar = new ProgressBar(100 * 1024 * 1024, { write: (s: string) => { written.push(s); return true } } as unknown as NodeJS.WriteStream)
  bar.update(50 * 1024 * 1024, 1000, 1000)
  bar.update(60 * 1024 * 1024, 1200, 1100)
  bar.update(100 * 1024 * 1024, 2000, 1300)
  bar.end()
  assert.equal(written.length, 3)
  assert.match(written[0]!, /^\rprocess \[#{15}\.{15}\] 50% 1000 records 50 MiB left/)
  assert.match(written[1]!, /100% 2000 records 0 MiB left/)
  assert.equal(written[2], '\n')
})
