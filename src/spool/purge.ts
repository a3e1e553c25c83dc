/**
 * `callback-spool purge --number +33...`: a data-subject erasure. Removes every record that
 * mentions one phone number from the sealed spool segments, the re-queue, the dead letters and
 * the handlers' outputs, and deletes quarantined fragments that contain it.
 *
 * Each file is rewritten safely: the kept lines go to a new file, which is fsync'ed and renamed
 * over the old one, then the directory is fsync'ed; a file with nothing to remove is not touched.
 * The segment a running receiver appends to (the newest, while it holds its lock) is never
 * rewritten: it is reported, to purge again once it is sealed. The processor's lock is held for
 * the whole purge, so no pass reads a file while it is replaced, and a checkpoint that points
 * into a rewritten segment is moved back by the bytes removed before it.
 */
import { eraseNumberFromDeliveryLog } from './delivery-log.js'
import { createReadStream } from 'node:fs'
import { readdir, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { NoInputError, UsageError } from '../errors.js'
import { normaliseNumber } from '../number.js'
import { createTempBeside, existingDataDir, FILE_MODE, fsyncDir, listNdjsonFiles, listSegments, openNoFollow, readFileNoFollow, writeFully } from './fsutil.js'
import { readCheckpoint, saveCheckpoint } from './checkpoint.js'
import { dataLayout } from './layout.js'
import { acquireLock, isLockHeld } from './lock.js'

/** The processor's rule (src/number.ts), so purge erases exactly what handlers were given as that number. */
export function normalizeNumber (value: string): string {
  return normaliseNumber(value) ?? value
}

/** Whether any string anywhere in `value` is the number, once normalised. Iterative: no stack to blow. */
export function mentionsNumber (value: unknown, number: string): boolean {
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === 'string') {
      if (v.length >= number.length - 2 && v.length <= number.length + 8 && normalizeNumber(v) === number) return true
    } else if (v !== null && typeof v === 'object') {
      for (const child of Object.values(v)) stack.push(child)
    }
  }
  return false
}

export interface FilePurge {
  /** Lines removed. */
  removed: number
  kept: number
  /** Old byte offset -> new byte offset, for checkpoints. */
  mapOffset (offset: number): number
}

/** Each complete line (without its `\n`), then a torn tail, if any, byte for byte. */
async function * linesOf (path: string): AsyncGenerator<{ line: Buffer, terminated: boolean }> {
  let rest: Buffer = Buffer.alloc(0)
  for await (const chunk of createReadStream(path, { fd: await openNoFollow(path), highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    let data = rest.length === 0 ? chunk : Buffer.concat([rest, chunk])
    let nl: number
    while ((nl = data.indexOf(0x0a)) !== -1) {
      yield { line: data.subarray(0, nl), terminated: true }
      data = data.subarray(nl + 1)
    }
    rest = Buffer.from(data)
  }
  if (rest.length > 0) yield { line: rest, terminated: false }
}

/**
 * Rewrites an NDJSON file without the lines `drop` selects (lines that are not JSON are kept:
 * they cannot be judged). With `dryRun` only counts.
 */
export async function purgeNdjsonFile (path: string, drop: (value: unknown) => boolean, dryRun = false): Promise<FilePurge> {
  const removedRanges: Array<[number, number]> = []
  let removed = 0
  let kept = 0
  let offset = 0
  const temp = dryRun ? undefined : await createTempBeside(path, 'purge.tmp')
  const fh = temp?.fh
  const tmp = temp?.tmp ?? ''
  try {
    let pending: Buffer[] = []
    let pendingBytes = 0
    const flush = async (): Promise<void> => {
      if (fh === undefined || pending.length === 0) return
      const data = Buffer.concat(pending)
      pending = []
      pendingBytes = 0
      await writeFully(fh, data)
    }
    for await (const { line, terminated } of linesOf(path)) {
      const length = line.length + (terminated ? 1 : 0)
      let value: unknown
      let parsed = false
      if (terminated) {
        try {
          value = JSON.parse(line.toString('utf8'))
          parsed = true
        } catch {}
      }
      if (parsed && drop(value)) {
        removed++
        removedRanges.push([offset, offset + length])
      } else {
        kept++
        pending.push(line)
        if (terminated) pending.push(Buffer.from('\n'))
        pendingBytes += length
        if (pendingBytes >= 1024 * 1024) await flush()
      }
      offset += length
    }
    await flush()
    if (fh !== undefined) {
      await fh.chmod(FILE_MODE)
      await fh.sync()
    }
  } catch (err) {
    // The temp file holds the very lines being erased: never leave it behind (disk full, I/O error).
    if (fh !== undefined) await unlink(tmp).catch(() => {})
    throw err
  } finally {
    await fh?.close()
  }
  if (!dryRun) {
    if (removed === 0) {
      await unlink(tmp)
    } else {
      await rename(tmp, path)
      await fsyncDir(dirname(path))
    }
  }
  return {
    removed,
    kept,
    mapOffset (old: number): number {
      let shift = 0
      for (const [start, end] of removedRanges) {
        if (end <= old) shift += end - start
        else if (start < old) shift += old - start
      }
      return old - shift
    },
  }
}

export interface AreaCounts {
  files: number
  filesChanged: number
  removed: number
}

export interface PurgeReport {
  spool: AreaCounts & { skippedActiveSegment?: string }
  requeue: AreaCounts
  dead: AreaCounts
  out: AreaCounts
  quarantine: AreaCounts
  checkpointMoved: boolean
  dryRun: boolean
  /** The number purged, normalised. */
  number: string
  /** Lines of the delivery log (state/deliveries/, for `trace`) removed. */
  deliveryLogRemoved?: number
}

const emptyArea = (): AreaCounts => ({ files: 0, filesChanged: 0, removed: 0 })

const NUMBER_RE = /^\+\d{6,15}$/

export async function purgeNumber (dataDir: string, rawNumber: string, options: { dryRun?: boolean } = {}): Promise<PurgeReport> {
  // People type numbers with spaces, dots or dashes; records hold them without.
  const number = normalizeNumber(rawNumber.trimEnd()).replace(/(?!^)[\s.()-]/g, '')
  if (!NUMBER_RE.test(number)) {
    throw new UsageError('Expected `--number` to be a phone number like +33600112233 or 0033600112233')
  }
  const dryRun = options.dryRun ?? false
  const layout = dataLayout(dataDir)
  const drop = (value: unknown): boolean => mentionsNumber(value, number)
  // A mistyped --data-dir must not "purge" an empty directory it just created and report zeros.
  await existingDataDir(dataDir)
  if (!(await stat(layout.spool).then((st) => st.isDirectory(), () => false))) {
    throw new NoInputError('SPOOL_ERR_NO_SPOOL', `no spool in ${layout.root}: is --data-dir right?`)
  }
  const lock = await acquireLock(layout.root, 'processor')
  try {
    const report: PurgeReport = {
      spool: emptyArea(),
      requeue: emptyArea(),
      dead: emptyArea(),
      out: emptyArea(),
      quarantine: emptyArea(),
      checkpointMoved: false,
      dryRun,
      number,
    }
    // Spool segments: a spool record names the number in its fields or query.
    let segments = await listSegments(layout.spool)
    if (await isLockHeld(layout.root, 'receiver') && segments.length > 0) {
      report.spool.skippedActiveSegment = segments.at(-1)!.name
      segments = segments.slice(0, -1)
    }
    // Offsets in a rewritten segment move, and the checkpoint with them: a checkpoint that cannot
    // be read stops the purge before anything changes (CheckpointError says how to repair it).
    const checkpoint = await readCheckpoint(dataDir)
    const spoolDrop = (value: unknown): boolean => {
      const r = value as { fields?: unknown, query?: unknown } | null
      return r !== null && typeof r === 'object' && (mentionsNumber(r.fields, number) || mentionsNumber(r.query, number))
    }
    for (const seg of segments) {
      const result = await purgeNdjsonFile(join(layout.spool, seg.name), spoolDrop, dryRun)
      report.spool.files++
      if (result.removed === 0) continue
      report.spool.filesChanged++
      report.spool.removed += result.removed
      if (!dryRun && checkpoint?.segment === seg.name) {
        await saveCheckpoint(dataDir, { segment: seg.name, offset: result.mapOffset(checkpoint.offset) })
        report.checkpointMoved = true
      }
    }
    const areas: Array<[keyof Pick<PurgeReport, 'requeue' | 'dead' | 'out'>, string, (v: unknown) => boolean]> = [
      ['requeue', layout.requeue, spoolDrop],
      ['dead', layout.dead, drop],
      ['out', layout.out, drop],
    ]
    for (const [area, dir, predicate] of areas) {
      for (const path of await listNdjsonFiles(dir)) {
        const result = await purgeNdjsonFile(path, predicate, dryRun)
        report[area].files++
        if (result.removed === 0) continue
        report[area].filesChanged++
        report[area].removed += result.removed
      }
    }
    // Quarantined fragments are torn lines, not JSON: any that contains the number goes.
    const digits = number.slice(1)
    let fragments: string[] = []
    try {
      fragments = await readdir(layout.quarantine)
    } catch {}
    for (const name of fragments) {
      const path = join(layout.quarantine, name)
      const text = await readFileNoFollow(path, 'latin1')
      report.quarantine.files++
      if (!text.includes(digits)) continue
      report.quarantine.filesChanged++
      report.quarantine.removed++
      if (!dryRun) await unlink(path)
    }
    if (!dryRun && report.quarantine.removed > 0) await fsyncDir(layout.quarantine)
    // The delivery log keeps the number only as a keyed hash, but that still links its records.
    report.deliveryLogRemoved = await eraseNumberFromDeliveryLog(dataDir, number, dryRun)
    return report
  } finally {
    await lock.release()
  }
}
