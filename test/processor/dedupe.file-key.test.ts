/**
 * `state/dedupe-keys.bin` keeps 64 bits of each key's SHA-256 (its first 8 bytes, as two
 * little-endian 32-bit words): a window written by one version is read by the next.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { DedupeWindow } from '../../src/processor/dedupe.js'

test('dedupe window: the entries it writes hold the first 8 bytes of each key\'s SHA-256', () => {
  const window = new DedupeWindow(86_400_000)
  const keys = ['octopush:sms_1|+33600112233|delivery|2020-11-04 11:11:45|DELIVERED', 'twilio:SM\u00e9\ud83d\ude00|delivered']
  for (let i = 0; i < 300; i++) keys.push(`k${i}:${'x'.repeat(i)}`)
  const receivedAt = Date.UTC(2026, 0, 1, 12)
  keys.forEach((key, i) => window.remember(key, receivedAt + i * 1000, `01900000-0000-7000-8000-${String(i).padStart(12, '0')}`))
  const write = window.take()!
  const n = write.data.readUInt32LE(4)
  assert.equal(n, keys.length)
  const stored = new Set<string>()
  for (let i = 0; i < n; i++) stored.add(write.data.subarray(12 + i * 16, 12 + i * 16 + 8).toString('hex'))
  for (const key of keys) {
    const digest = createHash('sha256').update(key).digest()
    assert.ok(stored.has(digest.subarray(0, 8).toString('hex')), key)
    assert.equal(window.seen(key, receivedAt, 'another record'), true, key)
  }
})
