/** The figures of one pass, and their Prometheus text form for node_exporter's textfile collector. */
import { writeFileDurably } from '../spool/fsutil.js'
import { KINDS, type CallbackKind } from './classify.js'

export type PassOutcome = 'done' | 'retry_later' | 'stopped' | 'error'

export interface PassFigures {
  started_at: string
  finished_at: string
  outcome: PassOutcome
  duration_ms: number
  records_read: number
  requeued_read: number
  /** Per kind: done, dead-lettered, and not routed (no target for the kind). */
  by_kind: Record<CallbackKind, { done: number, dead: number, skipped: number }>
  invalid: number
  dead_lettered: number
  quarantined: number
  segments_deleted: number
  lag_records: number
  lag_bytes: number
  lag_oldest_age_seconds: number | null
  checkpoint: { segment: string, offset: number } | null
}

export function emptyFigures (startedAt: Date): PassFigures {
  const byKind = Object.fromEntries(KINDS.map((k) => [k, { done: 0, dead: 0, skipped: 0 }])) as PassFigures['by_kind']
  return {
    started_at: startedAt.toISOString(),
    finished_at: startedAt.toISOString(),
    outcome: 'done',
    duration_ms: 0,
    records_read: 0,
    requeued_read: 0,
    by_kind: byKind,
    invalid: 0,
    dead_lettered: 0,
    quarantined: 0,
    segments_deleted: 0,
    lag_records: 0,
    lag_bytes: 0,
    lag_oldest_age_seconds: null,
    checkpoint: null,
  }
}

export function formatPrometheus (f: PassFigures): string {
  const lines: string[] = []
  const metric = (name: string, type: string, help: string, samples: Array<[string, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
  }
  metric('callback_spool_process_last_pass_timestamp_seconds', 'gauge', 'When the last pass finished.',
    [['', Date.parse(f.finished_at) / 1000]])
  metric('callback_spool_process_last_pass_duration_seconds', 'gauge', 'How long the last pass took.',
    [['', f.duration_ms / 1000]])
  metric('callback_spool_process_last_pass_success', 'gauge', '1 when the last pass reached the end of the spool.',
    [['', f.outcome === 'done' ? 1 : 0]])
  metric('callback_spool_process_records', 'gauge', 'Records handled in the last pass, by kind and outcome.',
    KINDS.flatMap((k) => (['done', 'dead', 'skipped'] as const).map((o): [string, number] => [`{kind="${k}",outcome="${o}"}`, f.by_kind[k][o]])))
  metric('callback_spool_process_records_read', 'gauge', 'Spool records read in the last pass.', [['', f.records_read]])
  metric('callback_spool_process_invalid_lines', 'gauge', 'Invalid spool lines dead-lettered in the last pass.', [['', f.invalid]])
  metric('callback_spool_process_dead_lettered', 'gauge', 'Records dead-lettered in the last pass.', [['', f.dead_lettered]])
  metric('callback_spool_process_quarantined', 'gauge', 'Torn fragments quarantined in the last pass.', [['', f.quarantined]])
  metric('callback_spool_process_lag_records', 'gauge', 'Records left after the checkpoint.', [['', f.lag_records]])
  metric('callback_spool_process_lag_bytes', 'gauge', 'Bytes left after the checkpoint.', [['', f.lag_bytes]])
  if (f.lag_oldest_age_seconds !== null) {
    metric('callback_spool_process_lag_oldest_age_seconds', 'gauge', 'Age of the oldest unprocessed record.', [['', f.lag_oldest_age_seconds]])
  }
  return lines.join('\n') + '\n'
}

export async function writeMetricsFile (path: string, figures: PassFigures): Promise<void> {
  await writeFileDurably(path, formatPrometheus(figures))
}
