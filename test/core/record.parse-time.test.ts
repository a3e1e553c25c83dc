import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseTimeMs } from '../../src/record.js'

test('parseTimeMs agrees with Date.parse, whatever time was read before', () => {
  const cases = ['2026-11-27T12:00:00.000Z', '2026-02-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z',
    '2026-13-01T00:00:00.000Z', '2026-00-01T00:00:00.000Z', '2026-01-00T00:00:00.000Z', '2026-01-32T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z', '2026-01-01T24:00:01.000Z', '2026-01-01T24:00:00.001Z', '2026-01-01T23:60:00.000Z',
    '2026-01-01T23:59:60.000Z', '2026-01-01T23:59:59.00aZ', '2026-01-01T23:59:59.000z', '2026-01-01 23:59:59.000Z',
    '2026-01-01 23:59:58.000Z', '2026-01-01T23:59:59Z', '2026-01-01', 'yesterday', '', '+02026-01-01T00:00:00.000Z',
    '2026-01-01T00:00:00.000+01:00', '2O26-01-01T00:00:00.000Z', '2026-1-01T00:00:00.000ZZ', '2026-01-01T23:59:5 .000Z']
  for (let i = 0; i < 24; i++) cases.push('2026-01-01T00:00:00.000Z'.slice(0, i) + '/' + '2026-01-01T00:00:00.000Z'.slice(i + 1))
  // Each case read cold, after a time of the same minute, and before one.
  for (const text of cases) {
    for (const before of ['1999-12-31T23:59:59.999Z', text.slice(0, 16) + ':00.000Z', text.slice(0, 16) + ':59.999Z', text]) {
      parseTimeMs(before)
      assert.equal(parseTimeMs(text), Date.parse(text), `${text} after ${before}`)
      assert.equal(parseTimeMs(text.slice(0, 16) + ':30.500Z'), Date.parse(text.slice(0, 16) + ':30.500Z'), `the same minute after ${text}`)
    }
  }
  // Times the receiver writes, in order and not, across minutes, hours, days and years.
  let ms = Date.UTC(2025, 11, 31, 23, 50)
  for (let i = 0; i < 20_000; i++) {
    ms += i % 7 === 0 ? -65_432 : 12_345
    const text = new Date(ms).toISOString()
    assert.equal(parseTimeMs(text), ms, text)
  }
})
