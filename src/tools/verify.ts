/**
 * `callback-spool verify`: an fsck for the spool (vector #19154 asked for one). Reads every
 * segment and the checkpoint, and reports each torn or invalid line with its segment, line number
 * and byte offset. Exit 0 only when all is sound, 1 otherwise.
 *
 * A newest segment that does not end in `\n` while the receiver runs is a write in progress (the
 * receiver appends a group commit's lines in one write, and a reader may see part of it): it is
 * reported as a note, not a problem. With no receiver running, it is a torn write: no receiver
 * will finish it (the next one seals that segment and quarantines the fragment at start), so it is
 * a problem, as is the unterminated tail of any sealed segment. Neither was ever acknowledged.
 */
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import { decodeRecord } from '../record.js'
import { loadCheckpoint } from '../spool/checkpoint.js'
import { dataLayout, listSegments, quarantineName, type DataLayout } from '../spool/layout.js'
import { isLockHeld } from '../spool/lock.js'
import { findTornTail } from '../spool/quarantine.js'
import { readLineBatches } from '../spool/reader.js'
import { existingDataDir } from '../spool/data-dir.js'
import { type ToolIO } from './common.js'

export type FindingKind = 'invalid' | 'torn' | 'write_in_progress' | 'checkpoint'

export interface Finding {
  kind: FindingKind
  /** Problems make verify fail; notes do not. */
  problem: boolean
  segment?: string
  /** 1-based line number in the segment. */
  line?: number
  /** Byte offset of the line's first byte. */
  offset?: number
  message: string
}

export interface VerifyReport {
  segments: number
  lines: number
  records: number
  findings: Finding[]
  sound: boolean
}

export async function verifySpool (layout: DataLayout): Promise<VerifyReport> {
  // A mistyped --data-dir is no "sound" spool: exit 66, as status does.
  await existingDataDir(layout)
  const segments = await listSegments(layout.spool)
  const findings: Finding[] = []
  const lineNumbers = new Map<string, number>()
  let lines = 0
  let records = 0
  const onTorn = async ({ segment, offset, fragment }: { segment: string, offset: number, fragment: Buffer }): Promise<void> => {
    const quarantined = await exists(join(layout.quarantine, quarantineName(segment, offset)))
    findings.push({
      kind: 'torn',
      problem: true,
      segment,
      line: (lineNumbers.get(segment) ?? 0) + 1,
      offset,
      message: `torn line (${fragment.length} bytes without a newline at the end of a sealed segment; never acknowledged)${quarantined ? ', already quarantined' : ''}`,
    })
  }
  for await (const batch of readLineBatches(layout, undefined, { onTorn })) {
    for (const line of batch.lines) {
      lines++
      const n = (lineNumbers.get(line.segment) ?? 0) + 1
      lineNumbers.set(line.segment, n)
      const decoded = decodeRecord(line.line)
      if (decoded.ok) records++
      else findings.push({ kind: 'invalid', problem: true, segment: line.segment, line: n, offset: line.offset, message: `invalid line: ${decoded.reason}` })
    }
  }
  // The reader leaves the newest segment's unterminated tail alone (it may be a write in progress).
  const newest = segments.at(-1)
  if (newest !== undefined) {
    const tail = await findTornTail(join(layout.spool, newest.name)).catch(() => undefined)
    if (tail !== undefined) {
      const receiverRuns = await isLockHeld(layout, 'receiver')
      findings.push({
        kind: receiverRuns ? 'write_in_progress' : 'torn',
        problem: !receiverRuns,
        segment: newest.name,
        line: (lineNumbers.get(newest.name) ?? 0) + 1,
        offset: tail.offset,
        message: receiverRuns
          ? `${tail.fragment.length} bytes without a newline at the end of the newest segment: a write in progress (the receiver is running)`
          : `torn line (${tail.fragment.length} bytes without a newline at the end of the newest segment, and no receiver is running; the next receiver quarantines it at start)`,
      })
    }
  }
  findings.push(...await checkCheckpoint(layout))
  return { segments: segments.length, lines, records, findings, sound: !findings.some((f) => f.problem) }
}

async function checkCheckpoint (layout: DataLayout): Promise<Finding[]> {
  try {
    await loadCheckpoint(layout)
    return []
  } catch (err) {
    return [{ kind: 'checkpoint', problem: true, message: (err as Error).message }]
  }
}

async function exists (path: string): Promise<boolean> {
  try {
    await access(path)
    return true
  } catch {
    return false
  }
}

export function formatFinding (f: Finding): string {
  const where = f.segment === undefined ? 'checkpoint' : `${f.segment} line ${f.line} (byte ${f.offset})`
  return `${f.problem ? 'PROBLEM' : 'note'}  ${where}: ${f.message}\n`
}

export function formatVerifyReport (report: VerifyReport): string {
  const problems = report.findings.filter((f) => f.problem).length
  const summary = report.sound
    ? `sound: ${report.segments} segment(s), ${report.records} record(s), checkpoint ok\n`
    : `NOT SOUND: ${problems} problem(s) in ${report.segments} segment(s), ${report.lines} complete line(s), ${report.records} valid record(s)\n`
  return report.findings.map(formatFinding).join('') + summary
}

/** The `verify` command: the report; exit 1 when something is not sound. */
export async function verifyCommand (opts: { dataDir: string, json?: boolean }, io: ToolIO): Promise<void> {
  const report = await verifySpool(dataLayout(opts.dataDir))
  await io.write(opts.json === true ? JSON.stringify(report) + '\n' : formatVerifyReport(report))
  process.exitCode = report.sound ? 0 : 1
}
