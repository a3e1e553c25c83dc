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
import { createHmac, randomBytes } from 'node:crypto'
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
  const key = randomBytes(32)
  await writeFileDurably(layout.traceKey, key.toString('hex') + '\n')
  return key
}

export function numberKey (key: Buffer, number: string): string {
  return createHmac('sha256', key).update(number).digest('hex').slice(0, 32)
}

/** Buffers the lines of one pass and appends them at each commit. */
export class DeliveryLogWriter {
  private pending: Array<Omit<DeliveryEntry, 'number_key'> & { number: string | null }> = []
  private key: Buffer | undefined

  constructor (private readonly layout: DataLayout) {}

  /** The time of the last add, as a string: one per millisecond, not one per record. */
  private lastMs = 0
  private lastAt = ''
  /** number -> number_key: a backlog names the same numbers again and again, and an HMAC is not free. */
  private readonly keys = new Map<string, string>()

  add (entry: Omit<DeliveryEntry, 'number_key' | 'at'> & { number: string | null }): void {
    const now = Date.now()
    if (now !== this.lastMs) {
      this.lastMs = now
      this.lastAt = new Date(now).toISOString()
    }
    this.pending.push({ id: entry.id, at: this.lastAt, kind: entry.kind, outcome: entry.outcome, targets: entry.targets, message_id: entry.message_id, number: entry.number })
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

  /** Takes the lines now, then appends them (to each one's date file). */
  async flush (): Promise<void> {
    if (this.pending.length === 0) return
    const taken = this.pending
    this.pending = []
    this.key ??= await loadTraceKey(this.layout, true)
    const byDay = new Map<string, string[]>()
    for (const e of taken) {
      const line: DeliveryEntry = { id: e.id, at: e.at, kind: e.kind, outcome: e.outcome, targets: e.targets, message_id: e.message_id, number_key: e.number === null ? null : this.keyOf(e.number) }
      const day = e.at.slice(0, 10)
      let lines = byDay.get(day)
      if (lines === undefined) byDay.set(day, lines = [])
      lines.push(JSON.stringify(line))
    }
    await ensureDir(this.layout.deliveries)
    for (const [day, lines] of byDay) await appendFile(join(this.layout.deliveries, `${day}.ndjson`), lines.join('\n') + '\n', { mode: 0o600 })
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
