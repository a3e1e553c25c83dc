/** The bench's own logic: counting spooled lines, and judging the figures against the targets. */
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { countLines } from '../../bench/count-lines.js'
import { evaluateTargets, markdownTable, targetsText, type Cell, type SpoolCheck } from '../../bench/report.js'
import type { ServerKind } from '../../bench/servers.js'
import type { WrkResult } from '../../bench/wrk.js'
import { tempDir } from '../helpers/tmp.js'

function wrk (requestsPerSecond: number, p99Ms = 2): WrkResult {
  return {
    requests: requestsPerSecond * 4,
    acknowledged: requestsPerSecond * 4,
    seconds: 4,
    requestsPerSecond,
    errors: { connect: 0, read: 0, write: 0, status: 0, timeout: 0 },
    p50Ms: 1,
    p99Ms,
    maxMs: p99Ms * 2,
  }
}

function cell (kind: ServerKind, connections: number, slowSync: boolean, rps: number, p99Ms?: number): Cell {
  const result = wrk(rps, p99Ms)
  return { kind, connections, slowSync, wrk: result, rounds: [result] }
}

function passes (cells: Cell[], checks: SpoolCheck[] = []): Map<string, boolean> {
  return new Map(evaluateTargets(cells, checks).map((t) => [t.label, t.pass]))
}

const goodRun = (): Cell[] => [
  cell('bare', 1, false, 20_000), cell('naive', 1, false, 5_000), cell('naive-async', 1, false, 5_200), cell('receiver', 1, false, 4_500),
  cell('bare', 64, false, 40_000), cell('naive', 64, false, 5_000), cell('naive-async', 64, false, 9_000), cell('receiver', 64, false, 30_000, 4),
  cell('naive', 64, true, 600), cell('receiver', 64, true, 5_500),
]

test('every target passes on figures that meet them', () => {
  const results = passes(goodRun())
  assert.equal(results.size, 7)
  for (const [label, pass] of results) assert.equal(pass, true, label)
})

test('each target fails on its own when its figure misses', () => {
  const miss = (kind: ServerKind, connections: number, slowSync: boolean, rps: number, p99Ms?: number): Map<string, boolean> =>
    passes(goodRun().map((c) => c.kind === kind && c.connections === connections && c.slowSync === slowSync ? cell(kind, connections, slowSync, rps, p99Ms) : c))
  assert.equal(miss('receiver', 64, false, 23_000).get('64 conns: receiver / bare >= 0.60'), false)
  assert.equal(miss('naive', 64, false, 7_000).get('64 conns: receiver / naive >= 5'), false)
  assert.equal(miss('receiver', 64, false, 30_000, 12).get('64 conns: receiver p99 < 10 ms'), false)
  assert.equal(miss('receiver', 1, false, 3_900).get('1 conn: receiver / naive >= 0.80'), false)
  assert.equal(miss('naive-async', 1, false, 6_000).get('1 conn: receiver / naive-async >= 0.80'), false)
  assert.equal(miss('receiver', 64, true, 4_999).get('5 ms sync, 64 conns: receiver >= 5,000 req/s'), false)
})

test('a target whose runs are missing fails instead of passing', () => {
  const results = passes(goodRun().filter((c) => !c.slowSync))
  assert.equal(results.get('5 ms sync, 64 conns: receiver >= 5,000 req/s'), false)
})

test('the spool check fails when a 2xx has no line, or more lines than requests in flight', () => {
  const check = (lines: number, tornFiles = 0): boolean | undefined =>
    passes(goodRun(), [{ server: 'receiver', lines, acknowledged: 1000, inFlightAllowance: 64, tornFiles }])
      .get('receiver: every 2xx is a spooled line')
  assert.equal(check(1000), true)
  assert.equal(check(1064), true)
  assert.equal(check(999), false)
  assert.equal(check(1065), false)
  assert.equal(check(1000, 1), false)
})

test('the markdown table has a row per connection count and sync, with the ratios', () => {
  const table = markdownTable(goodRun())
  const rows = table.split('\n')
  assert.equal(rows.length, 2 + 3)
  assert.match(rows[3]!, /^\| this disk \| 64 \| 40,000 \| .* \| 5,000 \| .* \| 9,000 \| .* \| 30,000 \| .* \| 0\.75 \| 6\.00 \| 3\.33 \|$/)
  assert.match(rows[4]!, /^\| slowed to 5 ms \| 64 \| – \| – \| 600 \| .* \| – \| – \| 5,500 \| .* \| – \| 9\.17 \| – \|$/)
  assert.match(targetsText(evaluateTargets(goodRun(), [])), /^INFO {2}64 conns: receiver \/ naive-async: 3\.33$/m)
})

test('countLines counts complete lines over the segments and finds a torn one', async (t) => {
  const dir = await tempDir(t)
  await mkdir(join(dir, 'spool'))
  await writeFile(join(dir, 'spool', '000000000001-20261127T120000000Z.ndjson'), '{"a":1}\n{"a":2}\n')
  await writeFile(join(dir, 'spool', '000000000002-20261127T120100000Z.ndjson'), '{"a":3}\n{"a":')
  await writeFile(join(dir, 'spool', 'notes.txt'), 'x\ny\n')
  assert.deepEqual(await countLines(dir), { lines: 3, files: 2, tornFiles: 1 })
  const file = join(dir, 'naive.ndjson')
  await writeFile(file, '1\n2\n3\n4\n')
  assert.deepEqual(await countLines(file), { lines: 4, files: 1, tornFiles: 0 })
})
