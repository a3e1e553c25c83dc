/** Shared test helpers: temp data dirs, fixtures as spool records, hand-made segments. */
import { mkdtemp, mkdir, readFile, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import type { TestContext } from 'node:test'
import { buildRecord } from '../src/receiver/build-record.js'
import { encodeRecord, newRecordId, type SpoolRecord } from '../src/record.js'
import { segmentName } from '../src/spool/layout.js'
import { PROCESS_DEFAULTS, type ProcessorOptions } from '../src/processor/pass.js'

export const FIXTURES_DIR = new URL('../../shared/fixtures/', import.meta.url)

export async function tempDir (t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'callback-spool-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

export function silentLogger (): Logger {
  return pino({ level: 'silent' })
}

/** A logger whose lines are collected as objects, to assert on what is logged. */
export function capturingLogger (): { logger: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>) } })
  return { logger, lines }
}

/** A .http fixture: request line, headers, blank line, body (no trailing newline). */
export async function parseHttpFixture (name: string): Promise<{ method: string, url: string, headers: Record<string, string>, body: Buffer }> {
  const raw = await readFile(new URL(name, FIXTURES_DIR))
  const sep = raw.indexOf('\n\n')
  const head = raw.subarray(0, sep).toString('utf8').split('\n')
  const body = raw.subarray(sep + 2)
  const [method, url] = head[0]!.split(' ')
  const headers: Record<string, string> = {}
  for (const line of head.slice(1)) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { method: method!, url: url!, headers, body }
}

export async function fixtureRecord (name: string, now = new Date()): Promise<SpoolRecord> {
  const req = await parseHttpFixture(name)
  return buildRecord({ method: req.method, url: req.url, remoteAddr: '127.0.0.1', headers: req.headers, body: req.body }, now)
}

/** A record with the given fields, as the receiver would write for a JSON body. */
export function recordWithFields (fields: Record<string, unknown>, now = new Date()): SpoolRecord {
  const body = JSON.stringify(fields)
  return {
    v: 1,
    id: newRecordId(now.getTime()),
    received_at: now.toISOString(),
    method: 'POST',
    path: '/callbacks',
    query: {},
    remote_addr: '127.0.0.1',
    headers: { 'content-type': 'application/json' },
    body,
    fields,
  }
}

export function deliveryRecord (i: number, now = new Date()): SpoolRecord {
  return recordWithFields({ message_id: `sms_${i}`, number: '+33600112233', status: 'DELIVERED', delivery_date: '2020-11-04 11:11:45' }, now)
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

export function lines (records: SpoolRecord[]): string {
  return records.map(encodeRecord).join('')
}

export async function readNdjson (path: string): Promise<Array<Record<string, unknown>>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

export function processorOptions (dataDir: string, overrides: Partial<ProcessorOptions> = {}): ProcessorOptions {
  return { ...PROCESS_DEFAULTS, dataDir, retryDelayMs: 5, progress: false, ...overrides }
}
