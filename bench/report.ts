/** The receiver bench's figures as a markdown table for bench/RESULTS.md, and its targets as PASS/FAIL. */
import type { ServerKind } from './servers.js'
import type { WrkResult } from './wrk.js'

export interface SpoolCheck {
  server: string
  lines: number
  /** 2xx that wrk counted, over every run against this server (warm-ups included). */
  acknowledged: number
  /** Requests wrk had in flight when its runs stopped: maybe spooled, but never counted. */
  inFlightAllowance: number
  tornFiles: number
}

export interface Cell {
  kind: ServerKind
  connections: number
  slowSync: boolean
  /** The median of the rounds, figure by figure. */
  wrk: WrkResult
  rounds: WrkResult[]
}

export interface Target {
  label: string
  measured: string
  pass: boolean
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => n < 10 ? n.toFixed(2) : n.toFixed(1)
const ratio = (n: number): string => n.toFixed(2)

function find (cells: Cell[], kind: ServerKind, connections: number, slowSync: boolean): Cell | undefined {
  return cells.find((c) => c.kind === kind && c.connections === connections && c.slowSync === slowSync)
}

export function markdownTable (cells: Cell[]): string {
  const rows = [
    '| fdatasync | conns | bare req/s | bare p50 / p99 ms | naive req/s | naive p50 / p99 ms | naive-async req/s | naive-async p50 / p99 ms | receiver req/s | receiver p50 / p99 ms | receiver / bare | receiver / naive | receiver / naive-async |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  const keys = [...new Set(cells.map((c) => `${c.slowSync ? 1 : 0}:${c.connections}`))]
  for (const key of keys) {
    const [slow, conns] = key.split(':').map(Number) as [number, number]
    const slowSync = slow === 1
    const col = (kind: ServerKind): [string, string] => {
      const c = find(cells, kind, conns, slowSync)
      return c === undefined ? ['–', '–'] : [int(c.wrk.requestsPerSecond), `${ms(c.wrk.p50Ms)} / ${ms(c.wrk.p99Ms)}`]
    }
    const rps = (kind: ServerKind): number | undefined => find(cells, kind, conns, slowSync)?.wrk.requestsPerSecond
    const r = rps('receiver')
    const b = rps('bare')
    const n = rps('naive')
    const a = rps('naive-async')
    const over = (x: number | undefined, y: number | undefined): string => x !== undefined && y !== undefined ? ratio(x / y) : '–'
    rows.push(`| ${slowSync ? 'slowed to 5 ms' : 'this disk'} | ${conns} | ${col('bare').join(' | ')} | ${col('naive').join(' | ')} | ${col('naive-async').join(' | ')} | ` +
      `${col('receiver').join(' | ')} | ${over(r, b)} | ${over(r, n)} | ${over(r, a)} |`)
  }
  return rows.join('\n')
}

export function evaluateTargets (cells: Cell[], spoolChecks: SpoolCheck[]): Target[] {
  const targets: Target[] = []
  const rps = (kind: ServerKind, conns: number, slow: boolean): number => find(cells, kind, conns, slow)?.wrk.requestsPerSecond ?? NaN
  const add = (label: string, value: number, pass: (v: number) => boolean, show: (v: number) => string): void => {
    targets.push({ label, measured: Number.isNaN(value) ? 'not run' : show(value), pass: !Number.isNaN(value) && pass(value) })
  }
  add('64 conns: receiver / bare >= 0.60', rps('receiver', 64, false) / rps('bare', 64, false), (v) => v >= 0.6, ratio)
  add('64 conns: receiver / naive >= 5', rps('receiver', 64, false) / rps('naive', 64, false), (v) => v >= 5, ratio)
  add('(not a target) 64 conns: receiver / naive-async', rps('receiver', 64, false) / rps('naive-async', 64, false), () => true, ratio)
  add('64 conns: receiver p99 < 10 ms', find(cells, 'receiver', 64, false)?.wrk.p99Ms ?? NaN, (v) => v < 10, (v) => `${ms(v)} ms`)
  add('1 conn: receiver / naive >= 0.80', rps('receiver', 1, false) / rps('naive', 1, false), (v) => v >= 0.8, ratio)
  add('1 conn: receiver / naive-async >= 0.80', rps('receiver', 1, false) / rps('naive-async', 1, false), (v) => v >= 0.8, ratio)
  add('5 ms sync, 64 conns: receiver >= 5,000 req/s', rps('receiver', 64, true), (v) => v >= 5000, (v) => `${int(v)} req/s`)
  for (const s of spoolChecks) {
    const extra = s.lines - s.acknowledged
    targets.push({
      label: `${s.server}: every 2xx is a spooled line`,
      measured: `${int(s.lines)} lines for ${int(s.acknowledged)} acknowledged (+${extra}; at most ${s.inFlightAllowance} were in flight when wrk stopped)` +
        `${s.tornFiles > 0 ? `, ${s.tornFiles} torn` : ''}`,
      pass: extra >= 0 && extra <= s.inFlightAllowance && s.tornFiles === 0,
    })
  }
  return targets
}

export function targetsText (targets: Target[]): string {
  return targets.map((t) => `${t.label.startsWith('(not a target)') ? 'INFO' : t.pass ? 'PASS' : 'FAIL'}  ${t.label.replace('(not a target) ', '')}: ${t.measured}`).join('\n')
}
