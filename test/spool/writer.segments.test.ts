import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, stat, writeFile, mkdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import { SpoolWriter } from '../../src/spool/writer.js'
import { dataLayout, listSegments, segmentName } from '../../src/spool/layout.js'
import { SpoolClosedError } from '../../src/errors.js'
import { tempDir } from '../helpers/tmp.js'
import { readSpool } from '../helpers/spool.js'
import { waitFor } from '../helpers/wait.js'

const silent = pino({ level: 'silent' })

const line = (i: number, pad = 0): string => JSON.stringify({ i, pad: 'x'.repeat(pad) }) + '\n'

test('group commit: concurrent appends share batches; every line present and complete', async (t) => {
  const dir = await tempDir(t)
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  t.after(() => writer.close())
  const n = 500
  const sizes: number[] = []
  writer.stats.onBatch = (records) => { sizes.push(records) }
  await Promise.all(Array.from({ length: n }, (_, i) => writer.append(line(i, i % 50))))
  assert.equal(writer.stats.records, n)
  assert.ok(writer.stats.batches < n, `${writer.stats.batches} batches for ${n} records`)
  assert.equal(writer.stats.batches, sizes.length)
  assert.equal(sizes.reduce((a, b) => a + b, 0), n)
  // The first line goes out at once, alone: no batch timer.
  assert.equal(sizes[0], 1)
  const { lines, torn, segments } = await readSpool(dir)
  assert.deepEqual(torn, [])
  assert.equal(segments.length, 1)
  assert.deepEqual(lines, Array.from({ length: n }, (_, i) => line(i, i % 50).slice(0, -1)))
  assert.equal(writer.stats.bytes, lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0))
})

test('durability os: lines are written and acknowledged too', async (t) => {
  const dir = await tempDir(t)
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), durability: 'os', logger: silent })
  await Promise.all([writer.append(line(1)), writer.append(line(2))])
  await writer.close()
  assert.deepEqual((await readSpool(dir)).lines, [line(1).trimEnd(), line(2).trimEnd()])
  await assert.rejects(writer.append(line(3)), SpoolClosedError)
})

test('rotation by bytes: several segments, names in write order, each under the limit, only complete lines', async (t) => {
  const dir = await tempDir(t)
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), rotateBytes: 1000, logger: silent })
  const expected: string[] = []
  // Three at a time, so whole batches are rotated too.
  for (let i = 0; i < 60; i += 3) {
    const group = [line(i, 80), line(i + 1, 80), line(i + 2, 80)]
    expected.push(...group)
    await Promise.all(group.map((l) => writer.append(l)))
  }
  await writer.close()
  const { spool } = dataLayout(dir)
  const names = (await readdir(spool)).filter((n) => n.endsWith('.ndjson'))
  assert.ok(names.length >= 6, `${names.length} segments`)
  assert.deepEqual([...names].sort(), (await listSegments(spool)).map((s) => s.name))
  for (const name of names) {
    const text = await readFile(join(spool, name), 'utf8')
    assert.ok(Buffer.byteLength(text) <= 1000, `${name} is ${Buffer.byteLength(text)} bytes`)
    assert.ok(text.endsWith('\n'), `${name} ends in a complete line`)
  }
  const { lines } = await readSpool(dir)
  assert.deepEqual(lines, expected.map((l) => l.trimEnd()))
})

test('rotation by age: an old segment is sealed and the next line begins a new one', async (t) => {
  const dir = await tempDir(t)
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), rotateAgeMs: 200, logger: silent })
  t.after(() => writer.close())
  await writer.append(line(1))
  const first = writer.currentSegment
  assert.ok(first !== undefined)
  // The age timer seals it even when nothing else arrives.
  await waitFor('the old segment to be sealed', () => writer.currentSegment === undefined, 10_000, 20)
  await writer.append(line(2))
  assert.ok(writer.currentSegment !== undefined && writer.currentSegment > first)
  const { segments, lines } = await readSpool(dir)
  assert.deepEqual(segments, [first, writer.currentSegment])
  assert.deepEqual(lines, [line(1).trimEnd(), line(2).trimEnd()])
})

test('an empty segment is not sealed by age', async (t) => {
  const dir = await tempDir(t)
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), rotateAgeMs: 100, logger: silent })
  t.after(() => writer.close())
  const first = writer.currentSegment
  await sleep(400)
  assert.equal(writer.currentSegment, first)
})

test('start-up seals the previous segment and opens a new one', async (t) => {
  const dir = await tempDir(t)
  const a = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  await a.append(line(1))
  const firstName = a.currentSegment!
  await a.close()
  const firstBytes = await readFile(join(dataLayout(dir).spool, firstName))
  const b = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  t.after(() => b.close())
  assert.ok(b.currentSegment !== undefined && b.currentSegment > firstName)
  await b.append(line(2))
  assert.deepEqual(await readFile(join(dataLayout(dir).spool, firstName)), firstBytes)
  const { segments, lines } = await readSpool(dir)
  assert.deepEqual(segments, [firstName, b.currentSegment])
  assert.deepEqual(lines, [line(1).trimEnd(), line(2).trimEnd()])
})

test('a torn last line at start is quarantined with its segment and offset, and never appended to', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  await mkdir(layout.spool, { recursive: true })
  const old = segmentName(7, new Date('2026-11-27T10:00:00.000Z'))
  const complete = line(1) + line(2)
  const fragment = '{"v":1,"id":"0193-torn'
  await writeFile(join(layout.spool, old), complete + fragment)
  const logs: string[] = []
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), logger: pino({ level: 'info' }, { write: (s: string) => { logs.push(s) } }) })
  const warning = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 40)
  assert.ok(warning !== undefined, 'a warning is logged')
  assert.equal(warning.segment, old)
  assert.equal(warning.offset, Buffer.byteLength(complete))
  t.after(() => writer.close())
  const quarantined = join(layout.quarantine, `${old}@${Buffer.byteLength(complete)}.fragment`)
  assert.equal(await readFile(quarantined, 'utf8'), fragment)
  assert.ok(writer.currentSegment !== undefined && writer.currentSegment !== old)
  assert.ok(writer.currentSegment.startsWith('000000000008-'), writer.currentSegment)
  await writer.append(line(3))
  // The old segment still ends with the fragment; the new line is in a separate segment.
  assert.equal(await readFile(join(layout.spool, old), 'utf8'), complete + fragment)
  assert.equal(await readFile(join(layout.spool, writer.currentSegment), 'utf8'), line(3))
  await writer.close()
  // A second start finds the same fragment and does not copy it again.
  const again = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  await again.close()
  assert.deepEqual(await readdir(layout.quarantine), [`${old}@${Buffer.byteLength(complete)}.fragment`])
})

test('a segment that is one torn line only is quarantined at offset 0', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  await mkdir(layout.spool, { recursive: true })
  const old = segmentName(1, new Date())
  await writeFile(join(layout.spool, old), 'x'.repeat(100_000))
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  await writer.close()
  assert.equal((await readFile(join(layout.quarantine, `${old}@0.fragment`))).length, 100_000)
})

test('files are created 0640 and directories 0750', async (t) => {
  const dir = await tempDir(t)
  const root = join(dir, 'data')
  const layout = dataLayout(root)
  await mkdir(layout.spool, { recursive: true, mode: 0o777 })
  await writeFile(join(layout.spool, segmentName(1, new Date())), 'torn')
  const previous = process.umask(0)
  t.after(() => { process.umask(previous) })
  const writer = await SpoolWriter.open({ layout, logger: silent })
  await writer.append(line(1))
  await writer.close()
  const mode = async (p: string): Promise<number> => (await stat(p)).mode & 0o777
  assert.equal(await mode(layout.quarantine), 0o750)
  const [fragment] = await readdir(layout.quarantine)
  assert.equal(await mode(join(layout.quarantine, fragment!)), 0o640)
  for (const name of await readdir(layout.spool)) {
    if (name.endsWith('.ndjson') && !name.startsWith('000000000001-')) assert.equal(await mode(join(layout.spool, name)), 0o640, name)
  }
  const fresh = join(dir, 'fresh')
  const w2 = await SpoolWriter.open({ layout: dataLayout(fresh), logger: silent })
  await w2.close()
  assert.equal(await mode(fresh), 0o750)
  assert.equal(await mode(dataLayout(fresh).spool), 0o750)
})

test('a torn tail that cannot be quarantined does not stop the start; the next start quarantines it', async (t) => {
  const dir = await tempDir(t)
  const layout = dataLayout(dir)
  await mkdir(layout.spool, { recursive: true })
  const old = segmentName(1, new Date())
  await writeFile(join(layout.spool, old), line(1) + '{"torn')
  // A file where the quarantine directory should be: the copy fails, as on a full disk.
  await writeFile(layout.quarantine, 'in the way')
  const writer = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  await writer.append(line(2))
  assert.ok(writer.currentSegment !== old)
  await writer.close()
  assert.equal(await readFile(join(layout.spool, old), 'utf8'), line(1) + '{"torn')
  await unlink(layout.quarantine)
  const again = await SpoolWriter.open({ layout: dataLayout(dir), logger: silent })
  await again.close()
  assert.equal(await readFile(join(layout.quarantine, `${old}@${Buffer.byteLength(line(1))}.fragment`), 'utf8'), '{"torn')
})
