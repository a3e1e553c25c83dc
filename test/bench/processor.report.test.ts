import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test } from 'node:test'
import { generateSpool } from '../../bench/processor.js'
import { evaluateProcessorTargets, processorTable, processorTargetsText, type ProcessorRun } from '../../bench/processor-report.js'
import type { ConcurrencyRun } from '../../bench/concurrency.js'
import { sqlTargets, type SqlRun } from '../../bench/sql.js'
import { decodeRecord } from '../../src/record.js'
import { tempDir } from '../helpers/tmp.js'

function run (records: number, seconds: number, rssMb: number, jqSeconds?: number): ProcessorRun {
  return {
    records,
    spoolBytes: records * 480,
    segments: 1,
    exitCode: 0,
    processor: { seconds, cpuSeconds: seconds * 0.9, peakRssMb: rssMb },
    jq: jqSeconds === undefined ? undefined : { seconds: jqSeconds, cpuSeconds: jqSeconds, peakRssMb: 3 },
  }
}

test('processor bench targets: 200k records/s, as fast as jq, peak RSS under 150 MB; jq missing is a SKIP', () => {
  const targets = evaluateProcessorTargets([run(1_000_000, 4, 120, 20), run(100_000, 1, 151)])
  const verdict = Object.fromEntries(targets.map((t) => [t.label, t.pass]))
  assert.equal(verdict['processor 1,000,000: >= 200,000 records/s'], true)
  assert.equal(verdict['processor 1,000,000: at least as fast as jq -c .'], true)
  assert.equal(verdict['processor 1,000,000: peak RSS < 150 MB'], true)
  assert.equal(verdict['processor 100,000: >= 200,000 records/s'], false)
  assert.equal(verdict['processor 100,000: at least as fast as jq -c .'], undefined)
  assert.equal(verdict['processor 100,000: peak RSS < 150 MB'], false)
  assert.equal(evaluateProcessorTargets([run(10, 2, 10, 1)]).find((t) => t.label.includes('jq'))?.pass, false)
  const text = processorTargetsText(targets)
  assert.match(text, /^PASS {2}processor 1,000,000: >= 200,000 records\/s: 250,000 records\/s$/m)
  assert.match(text, /^SKIP {2}processor 100,000: at least as fast as jq/m)
  const table = processorTable([run(1_000_000, 4, 120, 20)])
  assert.match(table, /^\| 1,000,000 \| 458 MiB, 1 segments \| 250,000 \(4\.00 s\) \| 3\.60 \| 277,778 \| 120 \| 50,000 \| 20\.00 \| 5\.00 \|$/m)
})

test('generateSpool writes valid version-1 records of the four kinds', async (t) => {
  const dir = await tempDir(t)
  const bytes = await generateSpool(dir, 400)
  const [segment] = await readdir(join(dir, 'spool'))
  const text = await readFile(join(dir, 'spool', segment!), 'utf8')
  assert.equal(Buffer.byteLength(text), bytes)
  const lines = text.trimEnd().split('\n')
  assert.equal(lines.length, 400)
  assert.ok(lines.every((l) => decodeRecord(l).ok))
})

test('SQL bench targets: PostgreSQL 15,000 records/s and MariaDB 8,000 at --concurrency 32; a failed pass fails; a missing server is a SKIP', () => {
  const run = (target: string, concurrent: number, failed = false): ConcurrencyRun => ({ target, records: 100_000, sequential: 3000, concurrent, sequentialCpuUs: NaN, concurrentCpuUs: NaN, failed })
  const verdicts = (runs: SqlRun[]): Array<boolean | undefined> => sqlTargets(runs).map((t) => t.pass)
  assert.deepEqual(verdicts([{ dialect: 'postgres', run: run('PostgreSQL', 15_000) }, { dialect: 'mysql', run: run('MariaDB/MySQL', 8_000) }]), [true, true])
  assert.deepEqual(verdicts([{ dialect: 'postgres', run: run('PostgreSQL', 14_999) }, { dialect: 'mysql', run: run('MariaDB/MySQL', 7_999) }]), [false, false])
  assert.deepEqual(verdicts([{ dialect: 'postgres', run: run('PostgreSQL', 20_000, true) }, { dialect: 'mysql', run: undefined, skipped: 'no server' }]), [false, undefined])
  assert.match(processorTargetsText(sqlTargets([{ dialect: 'postgres', run: run('PostgreSQL', 16_000) }])),
    /^PASS {2}PostgreSQL at --concurrency 32: >= 15,000 records\/s: 16,000 records\/s \(3,000 at 1\)$/)
})
