/**
 * The delivery log, for `trace`: one line per record the processor settled, in
 * `<data-dir>/state/deliveries/<YYYY-MM-DD>.ndjson` (UTC date of the commit):
 * `{"id", "at", "kind", "outcome": "done" | "dead", "targets": [...], "message_id", "number_key"}`.
 * No phone number in clear: `number_key` is an HMAC-SHA256 of the E.164 number with a secret of
 * this data dir (`state/trace.key`), so `trace` can still find a number whose records retention
 * deleted, and `purge --number` erases its lines. Appended with each commit (one write, no sync of
 * its own: losing its tail in a crash loses history, not callbacks); files older than `--retain`
 * are deleted with the segments.
 */
import { crypto } from '../lazy-builtin.js'
import { appendFile, readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDir, readFileNoFollow, writeFileDurably } from '../fs/durable.js'
import type { DataLayout } from './layout.js'

export interface DeliveryEntry {
  id: string
  /** ISO 8601: when the record was settled. */
  at: string
  kind: string
  outcome: 'done' | 'dead'
  targets: string[]
  message_id: string | null
  number_key: string | null
}

/** The data dir's secret, created on first use when `create`. */
export async function loadTraceKey (layout: DataLayout, create: boolean): Promise<Buffer | undefined> {
  try {
    return Buffer.from((await readFileNoFollow(layout.traceKey, 'utf8')).trim(), 'hex')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !create) return undefined
  }
  await ensureDir(layout.state)
  const key = crypto().randomBytes(32)
  await writeFileDurably(layout.traceKey, key.toString('hex') + '\n')
  return key
}

export function numberKey (key: Buffer, number: string): string {
  return crypto().createHmac('sha256', key).update(number).digest('hex').slice(0, 32)
}

/** What the settler hands over for one record: its line, less the time and the number's key. */
export type DeliveryAdd = Omit<DeliveryEntry, 'number_key' | 'at'> & { number: string | null }

/** A character JSON.stringify may write otherwise than as itself (any beyond ASCII is left to it). */
// eslint-disable-next-line no-control-regex -- the control characters are what JSON escapes
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\u007f-\uffff]/

/** JSON.stringify(text), without its call for the usual ids and words, which need no escape. */
function jsonString (text: string): string {
  return NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`
}

/** Bytes a UTF-8 encoding may take per UTF-16 code unit. */
const MAX_BYTES_PER_UNIT = 3

/**
 * Buffers the lines of one pass and appends them at each commit. A line's bytes are those of
 * `JSON.stringify(entry)` (an entry with a value of another type than its field's is serialised
 * so), written straight into one buffer per day: no object and no string per line at flush.
 */
export class DeliveryLogWriter {
  /** The entries added since the last flush, as handed over (not copied), and the time of each. */
  private pending: DeliveryAdd[] = []
  private pendingAt: string[] = []
  private key: Buffer | undefined

  constructor (private readonly layout: DataLayout) {}

  /** The time of the last add, as a string: one per millisecond, not one per record. */
  private lastMs = 0
  private lastAt = ''
  /** number -> number_key: a backlog names the same numbers again and again, and an HMAC is not free. */
  private readonly keys = new Map<string, string>()
  /** The JSON of each `targets` array: the settler hands the same array for every record of a kind. */
  private readonly targetsJsons = new WeakMap<string[], string>()

  /** Takes the entry as it is (the caller does not change it afterwards). */
  add (entry: DeliveryAdd): void {
    const now = Date.now()
    if (now !== this.lastMs) {
      this.lastMs = now
      this.lastAt = new Date(now).toISOString()
    }
    this.pending.push(entry)
    this.pendingAt.push(this.lastAt)
  }

  private keyOf (number: string): string {
    let k = this.keys.get(number)
    if (k === undefined) {
      if (this.keys.size >= 100_000) this.keys.clear()
      k = numberKey(this.key!, number)
      this.keys.set(number, k)
    }
    return k
  }

  private targetsJson (targets: string[]): string {
    let json = this.targetsJsons.get(targets)
    if (json === undefined) this.targetsJsons.set(targets, json = JSON.stringify(targets))
    return json
  }

  /** One line, as JSON.stringify writes its entry. */
  private line (e: DeliveryAdd, at: string): string {
    const numberKey = e.number === null ? null : this.keyOf(e.number)
    const { id, kind, outcome, targets, message_id: messageId } = e
    if (typeof id !== 'string' || typeof kind !== 'string' || (outcome !== 'done' && outcome !== 'dead') || !Array.isArray(targets) ||
        (messageId !== null && typeof messageId !== 'string')) {
      const entry: DeliveryEntry = { id, at, kind, outcome, targets, message_id: messageId, number_key: numberKey }
      return JSON.stringify(entry)
    }
    // `at` is Date#toISOString's, `outcome` one of two words and `number_key` hex: none needs escaping.
    return `{"id":${jsonString(id)},"at":"${at}","kind":${jsonString(kind)},"outcome":"${outcome}","targets":${this.targetsJson(targets)},` +
      `"message_id":${messageId === null ? 'null' : jsonString(messageId)},"number_key":${numberKey === null ? 'null' : `"${numberKey}"`}}`
  }

  /** Takes the lines now, then appends them (to each one's date file). */
  async flush (): Promise<void> {
    if (this.pending.length === 0) return
    const taken = this.pending
    const takenAt = this.pendingAt
    this.pending = []
    this.pendingAt = []
    this.key ??= await loadTraceKey(this.layout, true)
    const byDay = new Map<string, LineBuffer>()
    let lastAt: string | undefined
    let out!: LineBuffer
    for (let i = 0; i < taken.length; i++) {
      const at = takenAt[i]!
      if (at !== lastAt) {
        lastAt = at
        const day = at.slice(0, 10)
        let found = byDay.get(day)
        if (found === undefined) byDay.set(day, found = new LineBuffer((taken.length - i) * 256))
        out = found
      }
      out.push(this.line(taken[i]!, at))
    }
    await ensureDir(this.layout.deliveries)
    for (const [day, lines] of byDay) await appendFile(join(this.layout.deliveries, `${day}.ndjson`), lines.bytes(), { mode: 0o600 })
  }
}

/** Lines encoded one after the other into a buffer that grows as needed. */
class LineBuffer {
  private buffer: Buffer
  private used = 0

  constructor (expected: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(64 * 1024, expected))
  }

  push (line: string): void {
    const worst = line.length * MAX_BYTES_PER_UNIT + 1
    if (this.used + worst > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.buffer.length, this.used + worst))
      this.buffer.copy(bigger, 0, 0, this.used)
      this.buffer = bigger
    }
    this.used += this.buffer.write(line, this.used)
    this.buffer[this.used++] = 0x0a
  }

  bytes (): Buffer {
    return this.buffer.subarray(0, this.used)
  }
}

async function logFiles (layout: DataLayout): Promise<string[]> {
  try {
    return (await readdir(layout.deliveries)).filter((n) => /^\d{4}-\d\d-\d\d\.ndjson$/.test(n)).sort()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
}

export async function readDeliveryLog (layout: DataLayout): Promise<DeliveryEntry[]> {
  const out: DeliveryEntry[] = []
  for (const name of await logFiles(layout)) {
    for (const line of (await readFileNoFollow(join(layout.deliveries, name), 'utf8')).split('\n')) {
      if (line === '') continue
      try {
        out.push(JSON.parse(line) as DeliveryEntry)
      } catch {}
    }
  }
  return out
}

/** Retention: the files of days wholly older than `retainMs`; 0 keeps them for ever, as `--retain 0` keeps the segments. */
export async function deleteOldDeliveryLogs (layout: DataLayout, retainMs: number, now = Date.now()): Promise<void> {
  if (retainMs === 0) return
  for (const name of await logFiles(layout)) {
    const dayEnd = Date.parse(name.slice(0, 10) + 'T00:00:00Z') + 86_400_000
    if (now - dayEnd >= retainMs) await unlink(join(layout.deliveries, name)).catch(() => {})
  }
}

/** `purge --number`: the lines of that number removed (files rewritten atomically); returns how many. */
export async function eraseNumberFromDeliveryLog (layout: DataLayout, number: string, dryRun: boolean): Promise<number> {
  const key = await loadTraceKey(layout, false)
  if (key === undefined) return 0
  const wanted = numberKey(key, number)
  let removed = 0
  for (const name of await logFiles(layout)) {
    const path = join(layout.deliveries, name)
    const lines = (await readFileNoFollow(path, 'utf8')).split('\n').filter((l) => l !== '')
    const kept = lines.filter((l) => !l.includes(`"number_key":"${wanted}"`))
    if (kept.length === lines.length) continue
    removed += lines.length - kept.length
    if (!dryRun) await writeFileDurably(path, kept.map((l) => l + '\n').join(''))
  }
  return removed
}
