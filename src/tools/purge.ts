/**
 * `callback-spool purge --number N`: a data-subject erasure (purge-number.ts does the rewriting).
 * Prints counts per area, with the number masked.
 */
import { maskNumber } from '../mask.js'
import { purgeNumber, type PurgeReport } from './purge-number.js'
import { existingDataDir } from '../spool/data-dir.js'
import { dataLayout } from '../spool/layout.js'
import { confirmIrreversible, type ToolIO } from './common.js'

export function formatPurgeReport (report: PurgeReport): string {
  const verb = report.dryRun ? 'would remove' : 'removed'
  const lines = [`purge of ${maskNumber(report.number)}${report.dryRun ? ' (dry run: nothing changed)' : ''}`]
  const area = (name: string, a: { files: number, filesChanged: number, removed: number }, unit: string): void => {
    lines.push(`  ${name.padEnd(11)} ${verb} ${a.removed} ${unit} from ${a.filesChanged} of ${a.files} files`)
  }
  area('spool', report.spool, 'records')
  area('requeue', report.requeue, 'records')
  area('dead', report.dead, 'dead letters')
  area('out', report.out, 'lines')
  area('quarantine', report.quarantine, 'fragments')
  if (report.deliveryLogRemoved !== undefined) lines.push(`  ${'deliveries'.padEnd(11)} ${verb} ${report.deliveryLogRemoved} lines of the delivery log (state/deliveries/, for trace)`)
  if (report.checkpointMoved) lines.push('  the checkpoint was moved back by the bytes removed before it')
  if (report.spool.skippedActiveSegment !== undefined) {
    lines.push(`  not purged: ${report.spool.skippedActiveSegment}, the segment the running receiver writes to; run purge again once it is sealed (--rotate-age)`)
  }
  return lines.join('\n') + '\n'
}

/** The `purge` command: without --yes or --dry-run it counts first and asks (on a terminal only). */
export async function purgeCommand (opts: { number: string, dataDir: string, dryRun?: boolean, yes?: boolean }, tool: ToolIO): Promise<void> {
  const layout = dataLayout(opts.dataDir)
  const dryRun = opts.dryRun === true
  if (!dryRun && opts.yes !== true) {
    // Refuse before anything is read off a terminal; on one, count first, then ask.
    await existingDataDir(layout)
    if (!tool.stdinIsTTY) await confirmIrreversible(tool, false, `erase every record of ${maskNumber(opts.number)}`, 'purge')
    const counted = await purgeNumber(layout, opts.number, { dryRun: true })
    await tool.write(formatPurgeReport(counted))
    await confirmIrreversible(tool, false, `erase these records of ${maskNumber(counted.number)}`, 'purge')
  }
  const report = await purgeNumber(layout, opts.number, { dryRun })
  await tool.write(formatPurgeReport(report))
}
