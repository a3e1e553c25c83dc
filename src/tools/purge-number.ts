/**
 * `callback-spool purge --number +33...`: a data-subject erasure. Removes every line that
 * spells one phone number anywhere (number-spellings.ts: any spelling, raw and base64
 * bodies, invalid lines and torn tails included) from the sealed spool segments, the re-queue,
 * the dead letters and the handlers' outputs, and deletes quarantined fragments that spell it.
 *
 * Each file is rewritten safely: the kept lines go to a new file, which is fsync'ed and renamed
 * over the old one, then the directory is fsync'ed; a file with nothing to remove is not touched.
 * The segment a running receiver appends to (the newest, while it holds its lock) is never
 * rewritten: it is reported, to purge again once it is sealed. The processor's lock is held for
 * the whole purge, so no pass reads a file while it is replaced, and a checkpoint that points
 * into a rewritten segment is moved back by the bytes removed before it.
 */
import { eraseNumberFromDeliveryLog } from '../spool/delivery-log.js'
import { createReadStream } from 'node:fs'
import { readdir, rename, stat, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { NoInputError, UsageError } from '../errors.js'
import { normaliseNumber } from '../number.js'
import { textMentionsNumber } from './number-spellings.js'
import { createTempBeside, FILE_MODE, fsyncDir, listNdjsonFiles, openNoFollow, readFileNoFollow, writeFully } from '../fs/durable.js'
import { existingDataDir } from '../spool/data-dir.js'
import { listSegments, type DataLayout } from '../spool/layout.js'
import { readCheckpoint, saveCheckpoint } from '../spool/checkpoint.js'
import { readRefused, recordRefused } from '../spool/refused.js'
import { acquireLock, isLockHeld } from '../spool/lock.js'

/** The processor's rule (src/number.ts), for the number given on the command line. */
export function normalizeNumber (value: string): string {
  return normaliseNumber(value) ?? value
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
 * Rewrites an NDJSON file without the lines `drop` selects, judged on their text: a line that is
 * not JSON, or a torn tail, goes too when it names the number. With `dryRun` only counts.
 */
export async function purgeNdjsonFile (path: string, drop: (text: string) => boolean, dryRun = false): Promise<FilePurge> {
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
      // latin1: one character per byte, so a digit is found whatever the bytes around it.
      if (drop(line.toString('latin1'))) {
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

export async function purgeNumber (layout: DataLayout, rawNumber: string, options: { dryRun?: boolean } = {}): Promise<PurgeReport> {
  // People type numbers with spaces, dots or dashes; records hold them without.
  const number = normalizeNumber(rawNumber.trimEnd()).replace(/(?!^)[\s.()-]/g, '')
  if (!NUMBER_RE.test(number)) {
    throw new UsageError('Expected `--number` to be a phone number like +33600112233 or 0033600112233')
  }
  const dryRun = options.dryRun ?? false
  // Every spelling of the number anywhere in a line: fields, query, path, raw body (one that did
  // not parse too), a dead letter's quoted invalid line, a torn tail.
  const digits = number.slice(1)
  const drop = (text: string): boolean => textMentionsNumber(text, digits)
  // A mistyped --data-dir must not "purge" an empty directory it just created and report zeros.
  await existingDataDir(layout)
  if (!(await stat(layout.spool).then((st) => st.isDirectory(), () => false))) {
    throw new NoInputError('SPOOL_ERR_NO_SPOOL', `no spool in ${layout.root}: is --data-dir right?`)
  }
  const lock = await acquireLock(layout, 'processor')
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
    if (await isLockHeld(layout, 'receiver') && segments.length > 0) {
      report.spool.skippedActiveSegment = segments.at(-1)!.name
      segments = segments.slice(0, -1)
    }
    // Offsets in a rewritten segment move, and the checkpoint with them: a checkpoint that cannot
    // be read stops the purge before anything changes (CheckpointError says how to repair it).
    const checkpoint = await readCheckpoint(layout)
    for (const seg of segments) {
      // A torn tail goes too: otherwise the next pass would quarantine it again.
      const result = await purgeNdjsonFile(join(layout.spool, seg.name), drop, dryRun)
      report.spool.files++
      if (result.removed === 0) continue
      report.spool.filesChanged++
      report.spool.removed += result.removed
      if (!dryRun && checkpoint?.segment === seg.name) {
        await saveCheckpoint(layout, { segment: seg.name, offset: result.mapOffset(checkpoint.offset) })
        report.checkpointMoved = true
      }
      // Where refused lines begin moves with the offsets too (the reader takes the lowest recorded).
      const refusedAt = (await readRefused(layout.spool)).get(seg.name)
      if (!dryRun && refusedAt !== undefined) await recordRefused(layout.spool, seg.name, result.mapOffset(refusedAt))
    }
    const areas: Array<[keyof Pick<PurgeReport, 'requeue' | 'dead' | 'out'>, string]> = [
      ['requeue', layout.requeue],
      ['dead', layout.dead],
      ['out', layout.out],
    ]
    for (const [area, dir] of areas) {
      for (const path of await listNdjsonFiles(dir)) {
        const result = await purgeNdjsonFile(path, drop, dryRun)
        report[area].files++
        if (result.removed === 0) continue
        report[area].filesChanged++
        report[area].removed += result.removed
      }
    }
    // Quarantined fragments are torn lines, not JSON: any that spells the number goes.
    let fragments: string[] = []
    try {
      fragments = await readdir(layout.quarantine)
    } catch {}
    for (const name of fragments) {
      const path = join(layout.quarantine, name)
      const text = await readFileNoFollow(path, 'latin1')
      report.quarantine.files++
      if (!drop(text)) continue
      report.quarantine.filesChanged++
      report.quarantine.removed++
      if (!dryRun) await unlink(path)
    }
    if (!dryRun && report.quarantine.removed > 0) await fsyncDir(layout.quarantine)
    // The delivery log keeps the number only as a keyed hash, but that still links its records.
    report.deliveryLogRemoved = await eraseNumberFromDeliveryLog(layout, number, dryRun)
    return report
  } finally {
    await lock.release()
  }
}
