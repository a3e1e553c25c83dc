/**
 * `state/dedupe-keys.bin` read back: a window of thousands of keys written in several commits is
 * the same window when a later pass loads it (every key, the oldest first to expire), and a
 * window whose queue has wrapped around keeps its order when it grows.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DedupeWindow } from '../../src/processor/dedupe.js'
import { dataLayout } from '../../src/spool/layout.js'
import { tempDir } from '../helpers/tmp.js'

const HOUR = 3_600_000
const start = Date.UTC(2026, 0, 1, 12)
const id = (i: number): string => `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`

test('dedupe window: 5,000 keys written in three commits are all there when loaded, and expire oldest first', async (t) => {
  const layout = dataLayout(await tempDir(t))
  const window = new DedupeWindow(24 * HOUR)
  // One key a second: a file of three blocks, the first written whole, the others appended.
  const at = (i: number): number => start + i * 1000
  for (const [from, to] of [[0, 1000], [1000, 3000], [3000, 5000]] as const) {
    for (let i = from; i < to; i++) window.remember(`key-${i}`, at(i), id(i))
    await DedupeWindow.write(layout, window.take()!)
  }
  const loaded = await DedupeWindow.load(layout, 24 * HOUR)
  assert.equal(loaded.size, 5000)
  for (let i = 0; i < 5000; i++) assert.equal(loaded.seen(`key-${i}`, at(i), 'another record'), true, `key-${i}`)
  // The record that remembered a key is not its own duplicate.
  assert.equal(loaded.seen('key-7', at(7), id(7)), false)
  // A key remembered 24 h and 2,000 s after the first: the first 2,000 keys leave the window, the rest stay.
  loaded.remember('later', at(2000) + 24 * HOUR, id(9999))
  assert.equal(loaded.size, 3001)
  assert.equal(loaded.seen('key-1999', at(1999), 'another record'), false)
  assert.equal(loaded.seen('key-2000', at(2000), 'another record'), true)
})

test('dedupe window: a queue that has wrapped around keeps its order when it grows', () => {
  const window = new DedupeWindow(1000 * 1000)
  // A window of 1,000 s, one key a second: from the 1,001st on, each new key expires the oldest,
  // so the head of the queue moves round its 1,024 entries; then the keys come faster than they
  // expire (ten a second) and the queue must grow from the middle of its ring.
  // Then one a second again, until every key of the burst has had to leave the window.
  const when: number[] = []
  let t = start
  const add = (): void => { window.remember(`key-${when.length}`, t, id(when.length)); when.push(t) }
  for (let n = 0; n < 1500; n++, t += 1000) add()
  assert.equal(window.size, 1001)
  for (let n = 0; n < 3000; n++) {
    if (n % 10 === 0) t += 1000
    add()
  }
  for (let n = 0; n < 1100; n++) { t += 1000; add() }
  // Expired in the order they came: what is left is the last 1,000 s, whatever the queue's moves.
  const cutoff = t - 1000 * 1000
  when.forEach((at, k) => assert.equal(window.seen(`key-${k}`, at, 'another record'), at >= cutoff, `key-${k}`))
  assert.equal(window.size, when.filter((at) => at >= cutoff).length)
})
