/** The figures of one pass, and their Prometheus text form for node_exporter's textfile collector. */
import { writeFileDurably } from '../spool/fsutil.js'
import { readMetric, renderMetrics, type Metric } from '../spool/prometheus.js'
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
  /** Per provider (`none`: no profile recognised the request): done, dead-lettered, not routed, duplicates not handed over. */
  by_provider: Record<string, ProviderCounts>
  /** Records and events not handed over: their key was seen within `--dedupe-window`. */
  duplicates: number
  invalid: number
  dead_lettered: number
  quarantined: number
  segments_deleted: number
  lag_records: number
  lag_bytes: number
  lag_oldest_age_seconds: number | null
  checkpoint: { segment: string, offset: number } | null
}

export interface ProviderCounts { done: number, dead: number, skipped: number, duplicate: number }

/** The counts of a provider in the pass, created at its first record. */
export function providerFigures (figures: PassFigures, provider: string | null): ProviderCounts {
  const name = provider ?? 'none'
  let counts = figures.by_provider[name]
  if (counts === undefined) figures.by_provider[name] = counts = { done: 0, dead: 0, skipped: 0, duplicate: 0 }
  return counts
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
    by_provider: {},
    duplicates: 0,
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

/** The figures in the Prometheus text format, through the same formatter as the receiver's /metrics. */
export function formatPrometheus (f: PassFigures): string {
  const gauge = (name: string, help: string, value: number): Metric => readMetric('gauge', name, help, () => value)
  const metrics: Metric[] = [
    gauge('callback_spool_process_last_pass_timestamp_seconds', 'When the last pass finished.', Date.parse(f.finished_at) / 1000),
    gauge('callback_spool_process_last_pass_duration_seconds', 'How long the last pass took.', f.duration_ms / 1000),
    gauge('callback_spool_process_last_pass_success', '1 when the last pass reached the end of the spool.', f.outcome === 'done' ? 1 : 0),
    readMetric('gauge', 'callback_spool_process_records', 'Records handled in the last pass, by kind and outcome.',
      () => KINDS.flatMap((kind) => (['done', 'dead', 'skipped'] as const).map((outcome) => ({ labels: { kind, outcome }, value: f.by_kind[kind][outcome] })))),
    readMetric('gauge', 'callback_spool_process_provider_records', 'Records handled in the last pass, by provider and outcome (duplicate: a re-send not handed over).',
      () => Object.entries(f.by_provider).flatMap(([provider, counts]) => (['done', 'dead', 'skipped', 'duplicate'] as const).map((outcome) => ({ labels: { provider, outcome }, value: counts[outcome] })))),
    gauge('callback_spool_process_duplicates', 'Re-sent records not handed over in the last pass (--dedupe-window).', f.duplicates),
    gauge('callback_spool_process_records_read', 'Spool records read in the last pass.', f.records_read),
    gauge('callback_spool_process_invalid_lines', 'Invalid spool lines dead-lettered in the last pass.', f.invalid),
    gauge('callback_spool_process_dead_lettered', 'Records dead-lettered in the last pass.', f.dead_lettered),
    gauge('callback_spool_process_quarantined', 'Torn fragments quarantined in the last pass.', f.quarantined),
    gauge('callback_spool_process_lag_records', 'Records left after the checkpoint.', f.lag_records),
    gauge('callback_spool_process_lag_bytes', 'Bytes left after the checkpoint.', f.lag_bytes),
  ]
  if (f.lag_oldest_age_seconds !== null) {
    metrics.push(gauge('callback_spool_process_lag_oldest_age_seconds', 'Age of the oldest unprocessed record.', f.lag_oldest_age_seconds))
  }
  return renderMetrics(metrics)
}

export async function writeMetricsFile (path: string, figures: PassFigures): Promise<void> {
  await writeFileDurably(path, formatPrometheus(figures))
}
