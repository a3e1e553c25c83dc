import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile, mkdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { readLineBatches, readLines, type SpoolLine, type TornFragment } from '../../src/spool/reader.js'
import { computeBacklog } from '../../src/spool/backlog.js'
import { loadCheckpoint, saveCheckpoint, validatePosition } from '../../src/spool/checkpoint.js'
import { tempDir } from '../helpers/tmp.js'
import { deliveryRecord, lines } from '../helpers/records.js'
import { appendSegment, writeSegment } from '../helpers/spool.js'
import { dataLayout, type DataLayout } from '../../src/spool/layout.js'

async function collect (layout: DataLayout, from?: { segment: string, offset: number }, chunkBytes?: number, torn: TornFragment[] = []): Promise<SpoolLine[]> {
  const out: SpoolLine[] = []
  for await (const line of readLines(layout, from, { chunkBytes, onTorn: (t) => { torn.push(t) } })) out.push(line)
  return out
}

test('reads complete lines across segments in order, with exact byte offsets, in small chunks too', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  const a = await writeSegment(dir, 1, 'é1\n{"b":2}\n')
  const b = await writeSegment(dir, 2, '')
  const c = await writeSegment(dir, 3, 'x'.repeat(100) + '\nlast\n')
  for (const chunk of [undefined, 3, 7]) {
    const got = await collect(layout, undefined, chunk)
    assert.deepEqual(got.map((l) => [l.segment, l.offset, l.nextOffset, l.line]), [
      [a, 0, 4, 'é1'],
      [a, 4, 12, '{"b":2}'],
      [c, 0, 101, 'x'.repeat(100)],
      [c, 101, 106, 'last'],
    ], `chunk ${chunk}`)
    assert.ok(b)
  }
  // From a position: the line starting there, then on.
  assert.deepEqual((await collect(layout, { segment: a, offset: 4 })).map((l) => l.line), ['{"b":2}', 'x'.repeat(100), 'last'])
  // From the end of a sealed segment.
  assert.deepEqual((await collect(layout, { segment: a, offset: 12 })).map((l) => l.line), ['x'.repeat(100), 'last'])
  // From a segment that is gone and older than all: the first one after it.
  assert.deepEqual((await collect(layout, { segment: '000000000000-20250101T000000000Z.ndjson', offset: 99 })).map((l) => l.line), ['é1', '{"b":2}', 'x'.repeat(100), 'last'])
})

test('the newest segment: a line without its newline is not read until it is complete', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  const a = await writeSegment(dir, 1, 'one\ntw')
  const torn: TornFragment[] = []
  assert.deepEqual((await collect(layout, undefined, undefined, torn)).map((l) => l.line), ['one'])
  assert.deepEqual(torn, [])
  await appendSegment(dir, a, 'o\n')
  assert.deepEqual((await collect(layout, { segment: a, offset: 4 })).map((l) => [l.line, l.nextOffset]), [['two', 8]])
})

test('a sealed segment: an unterminated tail is torn, reported once, and reading goes on', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  const a = await writeSegment(dir, 1, 'one\n{"torn":')
  await writeSegment(dir, 2, 'two\n')
  const torn: TornFragment[] = []
  const got = await collect(layout, undefined, 4, torn)
  assert.deepEqual(got.map((l) => l.line), ['one', 'two'])
  assert.equal(torn.length, 1)
  assert.equal(torn[0]!.segment, a)
  assert.equal(torn[0]!.offset, 4)
  assert.equal(torn[0]!.fragment.toString(), '{"torn":')
  // The batch after a sealed segment moves the position to the next segment.
  const nexts = []
  for await (const batch of readLineBatches(layout, undefined)) nexts.push(batch.next)
  assert.deepEqual(nexts.at(-1), { segment: (await collect(layout)).at(-1)!.segment, offset: 4 })
})

test('checkpoint: saved atomically, loaded, and checked against the spool', async (t) => {
  const dir = await tempDir(t)
  const a = await writeSegment(dir, 5, 'one\ntwo\n')
  const b = await writeSegment(dir, 6, 'three\n')
  assert.equal(await loadCheckpoint(dataLayout(dir)), undefined)
  await saveCheckpoint(dataLayout(dir), { segment: a, offset: 4 })
  const loaded = await loadCheckpoint(dataLayout(dir))
  assert.equal(loaded?.segment, a)
  assert.equal(loaded?.offset, 4)
  assert.match(loaded!.updated_at, /^\d{4}-\d{2}-\d{2}T/)
  // A segment deleted by retention, older than every segment left: fine.
  await saveCheckpoint(dataLayout(dir), { segment: '000000000004-20250101T000000000Z.ndjson', offset: 10 })
  assert.ok(await loadCheckpoint(dataLayout(dir)))
  const bad = async (content: string, pattern: RegExp): Promise<void> => {
    await writeFile(dataLayout(dir).checkpoint, content)
    await assert.rejects(loadCheckpoint(dataLayout(dir)), (err: Error & { code?: string, exitCode?: number }) => {
      assert.equal(err.code, 'SPOOL_ERR_CHECKPOINT_CORRUPT')
      assert.equal(err.exitCode, 78)
      assert.match(err.message, pattern)
      assert.match(err.message, /replay .*--from SEGMENT:OFFSET/)
      assert.match(err.message, /--all/)
      return true
    })
  }
  await bad('{"segment": "', /not valid JSON/)
  await bad('{"segment": 3, "offset": 0}', /does not name a segment/)
  await bad(JSON.stringify({ segment: a, offset: -1 }), /does not name a segment/)
  await bad(JSON.stringify({ segment: a, offset: 2 }), /not at the start of a line/)
  await bad(JSON.stringify({ segment: a, offset: 9 }), /past the end/)
  // A segment that is missing but not older than all the others: something is wrong.
  await bad(JSON.stringify({ segment: '000000000007-20250101T000000000Z.ndjson', offset: 0 }), /not in/)
  await unlink(join(dir, 'spool', b))
  await bad(JSON.stringify({ segment: '000000000006-20250101T000000000Z.ndjson', offset: 0 }), /not in/)
  await validatePosition(dataLayout(dir), { segment: a, offset: 8 })
})

test('backlog: records, bytes and the age of the oldest unprocessed record after a position', async (t) => {
  const dir = await tempDir(t)
  const old = new Date(Date.now() - 60_000)
  const recs = [deliveryRecord(1, old), deliveryRecord(2), deliveryRecord(3)]
  const text = lines(recs)
  const a = await writeSegment(dir, 1, text)
  const first = Buffer.byteLength(lines([recs[0]!]))
  const all = await computeBacklog(dataLayout(dir), undefined)
  assert.equal(all.records, 3)
  assert.equal(all.bytes, Buffer.byteLength(text))
  assert.equal(all.oldestReceivedAt, old.toISOString())
  assert.ok(all.oldestAgeMs! >= 59_000 && all.oldestAgeMs! < 120_000)
  const rest = await computeBacklog(dataLayout(dir), { segment: a, offset: first })
  assert.equal(rest.records, 2)
  assert.equal(rest.bytes, Buffer.byteLength(text) - first)
  assert.equal(rest.oldestReceivedAt, recs[1]!.received_at)
  const none = await computeBacklog(dataLayout(dir), { segment: a, offset: Buffer.byteLength(text) })
  assert.deepEqual(none, { records: 0, bytes: 0 })
  await mkdir(join(dir, 'state'), { recursive: true })
  assert.equal(JSON.parse(await readFile(dataLayout(dir).checkpoint, 'utf8').catch(() => 'null')), null)
})

test('lines with multi-byte and invalid UTF-8: byte offsets exact, each line decoded as it would be alone', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  const parts = [Buffer.from('ascii'), Buffer.from('😀 é \u2028'), Buffer.from([0x61, 0xc3]), Buffer.from([0xff, 0xfe, 0xe2, 0x82]), Buffer.from(''), Buffer.from('end')]
  const seg = await writeSegment(dir, 1, Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')])))
  const expected: Array<[number, number, string]> = []
  let offset = 0
  for (const p of parts) {
    expected.push([offset, offset + p.length + 1, p.toString('utf8')])
    offset += p.length + 1
  }
  for (const chunk of [undefined, 2, 5, 9]) {
    const got = await collect(layout, undefined, chunk)
    assert.deepEqual(got.map((l) => [l.offset, l.nextOffset, l.line]), expected, `chunk ${chunk}`)
    assert.ok(got.every((l) => l.segment === seg))
  }
})
