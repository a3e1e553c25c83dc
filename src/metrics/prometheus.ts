/**
 * A tiny Prometheus registry: counters and gauges read at scrape time, histograms, and the text
 * exposition format (version 0.0.4). Hand-written so that neither the receiver's /metrics nor the
 * processor's --metrics-file needs a dependency.
 */

export type Labels = Readonly<Record<string, string>>
export type MetricType = 'counter' | 'gauge' | 'histogram'

export interface Sample {
  /** Appended to the metric's name: '', '_bucket', '_sum' or '_count'. */
  suffix?: string
  labels?: Labels
  value: number
}

export interface Metric {
  readonly name: string
  readonly help: string
  readonly type: MetricType
  samples (): Sample[]
}

/** The exposition format's content type. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

/**
 * A counter or gauge whose value is read when scraped, from counters the code keeps anyway
 * (so the hot path pays nothing for metrics). `read` returns one value, or one per label set.
 */
export function readMetric (type: 'counter' | 'gauge', name: string, help: string,
  read: () => number | Array<{ labels: Labels, value: number }>): Metric {
  checkName(name)
  return {
    name,
    help,
    type,
    samples () {
      const v = read()
      return typeof v === 'number' ? [{ value: v }] : v.map((s) => ({ labels: s.labels, value: s.value }))
    },
  }
}

/** A histogram with fixed upper bounds (`le`), cumulative as Prometheus wants them. */
export class Histogram implements Metric {
  readonly type = 'histogram'
  readonly buckets: readonly number[]
  private readonly counts: number[]
  private sum = 0
  private count = 0

  constructor (readonly name: string, readonly help: string, buckets: readonly number[]) {
    checkName(name)
    this.buckets = [...buckets].sort((a, b) => a - b)
    this.counts = this.buckets.map(() => 0)
  }

  observe (value: number): void {
    this.sum += value
    this.count++
    // Counts per bucket are kept non-cumulative; samples() accumulates. Buckets are few (~12).
    const i = this.buckets.findIndex((le) => value <= le)
    if (i !== -1) this.counts[i]!++
  }

  samples (): Sample[] {
    const out: Sample[] = []
    let cumulative = 0
    this.buckets.forEach((le, i) => {
      cumulative += this.counts[i]!
      out.push({ suffix: '_bucket', labels: { le: formatNumber(le) }, value: cumulative })
    })
    out.push({ suffix: '_bucket', labels: { le: '+Inf' }, value: this.count })
    out.push({ suffix: '_sum', value: this.sum })
    out.push({ suffix: '_count', value: this.count })
    return out
  }
}

export class Registry {
  private readonly metrics: Metric[] = []

  register<M extends Metric> (metric: M): M {
    if (this.metrics.some((m) => m.name === metric.name)) throw new Error(`metric ${metric.name} registered twice`)
    this.metrics.push(metric)
    return metric
  }

  /** The text exposition of every metric, ending in a newline. */
  render (): string {
    return renderMetrics(this.metrics)
  }
}

export function renderMetrics (metrics: readonly Metric[]): string {
  let text = ''
  for (const m of metrics) {
    text += `# HELP ${m.name} ${escapeHelp(m.help)}\n# TYPE ${m.name} ${m.type}\n`
    for (const s of m.samples()) {
      text += `${m.name}${s.suffix ?? ''}${formatLabels(s.labels)} ${formatNumber(s.value)}\n`
    }
  }
  return text
}

function checkName (name: string): void {
  if (!NAME_RE.test(name)) throw new Error(`invalid Prometheus metric name: ${name}`)
}

function formatLabels (labels: Labels | undefined): string {
  if (labels === undefined) return ''
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

export function formatNumber (n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

function escapeHelp (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function escapeLabelValue (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}
