/** The processor bench's figures as a markdown table for bench/RESULTS.md, and its targets as PASS/FAIL/SKIP. */

export interface Measured {
  /** Wall time, seconds. */
  seconds: number
  /** User + system CPU time of the child, seconds (undefined without /usr/bin/time). */
  cpuSeconds: number | undefined
  peakRssMb: number
}

export interface ProcessorRun {
  records: number
  spoolBytes: number
  segments: number
  exitCode: number | null
  processor: Measured
  /** `jq -c . spool/*.ndjson > /dev/null` over the same files; undefined when jq is not installed. */
  jq: Measured | undefined
}

export interface ProcessorTarget {
  label: string
  measured: string
  /** undefined: not measured (jq missing), neither passed nor failed. */
  pass: boolean | undefined
}

export const TARGET_RECORDS_PER_SECOND = 200_000
export const TARGET_PEAK_RSS_MB = 150

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const rate = (count: number, seconds: number): number => count / seconds
const usPerRecord = (m: Measured, count: number): string => m.cpuSeconds === undefined ? '–' : (m.cpuSeconds * 1e6 / count).toFixed(2)

export function processorTable (runs: ProcessorRun[]): string {
  const rows = [
    '| records | spool | processor records/s (wall) | CPU µs/record | records per CPU-s | peak RSS MB | jq -c . records/s | jq CPU µs/record | processor / jq (wall) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const r of runs) {
    const p = r.processor
    const perCpu = p.cpuSeconds === undefined ? '–' : int(r.records / p.cpuSeconds)
    const jq = r.jq === undefined ? ['not installed', '–', '–'] : [int(rate(r.records, r.jq.seconds)), usPerRecord(r.jq, r.records), (r.jq.seconds / p.seconds).toFixed(2)]
    rows.push(`| ${int(r.records)} | ${(r.spoolBytes / 1048576).toFixed(0)} MiB, ${r.segments} segments | ${int(rate(r.records, p.seconds))} (${p.seconds.toFixed(2)} s) | ` +
      `${usPerRecord(p, r.records)} | ${perCpu} | ${p.peakRssMb.toFixed(0)} | ${jq.join(' | ')} |`)
  }
  return rows.join('\n')
}

export function evaluateProcessorTargets (runs: ProcessorRun[]): ProcessorTarget[] {
  const targets: ProcessorTarget[] = []
  for (const r of runs) {
    const n = int(r.records)
    const recordsPerSecond = rate(r.records, r.processor.seconds)
    targets.push({ label: `processor ${n}: the pass ends with exit code 0`, measured: `exit ${r.exitCode}`, pass: r.exitCode === 0 })
    targets.push({ label: `processor ${n}: >= ${int(TARGET_RECORDS_PER_SECOND)} records/s`, measured: `${int(recordsPerSecond)} records/s`, pass: recordsPerSecond >= TARGET_RECORDS_PER_SECOND })
    targets.push(r.jq === undefined
      ? { label: `processor ${n}: at least as fast as jq -c .`, measured: 'jq not installed (apt-get install -y jq)', pass: undefined }
      : { label: `processor ${n}: at least as fast as jq -c .`, measured: `${(r.jq.seconds / r.processor.seconds).toFixed(2)}x jq's rate`, pass: r.processor.seconds <= r.jq.seconds })
    targets.push({ label: `processor ${n}: peak RSS < ${TARGET_PEAK_RSS_MB} MB`, measured: `${r.processor.peakRssMb.toFixed(0)} MB`, pass: r.processor.peakRssMb < TARGET_PEAK_RSS_MB })
  }
  return targets
}

export function processorTargetsText (targets: ProcessorTarget[]): string {
  return targets.map((t) => `${t.pass === undefined ? 'SKIP' : t.pass ? 'PASS' : 'FAIL'}  ${t.label}: ${t.measured}`).join('\n')
}
