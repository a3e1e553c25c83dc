/**
 * `callback-spool purge --number N`: a data-subject erasure (src/spool/purge.ts does the rewriting).
 * Prints counts per area, with the number masked.
 */
import type { Command } from 'commander'
import { maskNumber } from '../mask.js'
import { purgeNumber, type PurgeReport } from '../spool/purge.js'
import { dataDirOption } from '../config.js'
import { existingDataDir } from '../spool/data-dir.js'
import { confirmIrreversible, flag, type ToolIO } from './common.js'

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

export function addPurgeCommand (program: Command, io: () => ToolIO): void {
  program.command('purge')
    .description('erase every record of one phone number from the spool, re-queue, dead letters and outputs')
    // Flag-only: an erasure is never set by a config file or a stray environment variable.
    .addOption(flag('--number <number>', 'the number, e.g. +33600112233 or 0033600112233').makeOptionMandatory())
    .addOption(dataDirOption())
    .addOption(flag('--dry-run', 'count what would be removed, change nothing'))
    .addOption(flag('-y, --yes', 'do not ask (required when stdin is not a terminal)'))
    .addHelpText('after', `
It cannot be undone: it asks on a terminal (after counting), and needs --yes otherwise (exit 64 without).

Examples:
  callback-spool purge --number +33600112233 --dry-run --data-dir /var/lib/callback-spool
  callback-spool purge --number +33600112233 --yes --data-dir /var/lib/callback-spool
`)
    .action(async (opts: { number: string, dataDir: string, dryRun?: boolean, yes?: boolean }) => {
      const tool = io()
      const dryRun = opts.dryRun === true
      if (!dryRun && opts.yes !== true) {
        // Refuse before anything is read off a terminal; on one, count first, then ask.
        await existingDataDir(opts.dataDir)
        if (!tool.stdinIsTTY) await confirmIrreversible(tool, false, `erase every record of ${maskNumber(opts.number)}`, 'purge')
        const counted = await purgeNumber(opts.dataDir, opts.number, { dryRun: true })
        await tool.write(formatPurgeReport(counted))
        await confirmIrreversible(tool, false, `erase these records of ${maskNumber(counted.number)}`, 'purge')
      }
      const report = await purgeNumber(opts.dataDir, opts.number, { dryRun })
      await tool.write(formatPurgeReport(report))
    })
}
