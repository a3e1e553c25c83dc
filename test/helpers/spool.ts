/** Spool segments in tests: read back what the receiver wrote, or write them by hand. */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { dataLayout, listSegments, segmentName } from '../../src/spool/layout.js'
import { decodeRecord, type SpoolRecord } from '../../src/record.js'

export interface SpoolContents {
  segments: string[]
  /** Complete lines, in write order, without their `\n`. */
  lines: string[]
  /** Segments whose last byte is not `\n` (torn). */
  torn: string[]
  /** The complete lines of each segment. */
  bySegment: Map<string, string[]>
}

export async function readSpool (dataDir: string): Promise<SpoolContents> {
  const { spool } = dataLayout(dataDir)
  const segments = (await listSegments(spool)).map((s) => s.name)
  const lines: string[] = []
  const torn: string[] = []
  const bySegment = new Map<string, string[]>()
  for (const name of segments) {
    const text = await readFile(join(spool, name), 'utf8')
    const parts = text === '' ? [] : text.split('\n')
    const last = parts.pop()
    if (last !== undefined && last !== '') torn.push(name)
    lines.push(...parts)
    bySegment.set(name, parts)
  }
  return { segments, lines, torn, bySegment }
}

/** Every complete line decoded; throws on a line that is not a valid record. */
export async function readRecords (dataDir: string): Promise<SpoolRecord[]> {
  const { lines } = await readSpool(dataDir)
  return lines.map((line, i) => {
    const d = decodeRecord(line)
    if (!d.ok) throw new Error(`spool line ${i} is not a record: ${d.reason}`)
    return d.record
  })
}

/** Writes a segment file directly (bypassing the writer) and returns its name. */
export async function writeSegment (dataDir: string, seq: number, content: string | Buffer, createdAt = new Date(Date.UTC(2026, 0, 1) + seq * 1000)): Promise<string> {
  const spool = join(dataDir, 'spool')
  await mkdir(spool, { recursive: true })
  const name = segmentName(seq, createdAt)
  await writeFile(join(spool, name), content)
  return name
}

export async function appendSegment (dataDir: string, name: string, content: string): Promise<void> {
  await appendFile(join(dataDir, 'spool', name), content)
}
