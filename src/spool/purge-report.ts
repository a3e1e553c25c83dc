/** The lines `callback-spool purge` prints: counts per area, the number masked. */
import { maskNumber } from '../mask.js'
import type { PurgeReport } from './purge.js'

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
  if (report.checkpointMoved) lines.push('  the checkpoint was moved back by the bytes removed before it')
  if (report.spool.skippedActiveSegment !== undefined) {
    lines.push(`  not purged: ${report.spool.skippedActiveSegment}, the segment the running receiver writes to; run purge again once it is sealed (--rotate-age)`)
  }
  return lines.join('\n') + '\n'
}
