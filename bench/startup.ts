/**
 * Start-up: how long a command takes before it does its work, beside `node -e 0` in the same run.
 *   - `node -e 0`: Node itself, the floor;
 *   - `callback-spool status` on an empty data dir;
 *   - `callback-spool process`, one pass over a spool of one record (a fresh copy each run), start
 *     to exit: the time to the first record handed over, plus its commit;
 *   - the same pass as cron runs it every minute on a data dir in use: after a pass over 10,000
 *     records (its checkpoint, dedupe keys and delivery log to read), one new record;
 *   - a bare Node script that reads the spool's first line and POSTs it with node:http: the floor
 *     of the time to the first record for any program in Node, nothing checked, locked or kept.
 * Each is spawned `rounds` times, in turn, for its wall time, and as many times through
 * /usr/bin/time when present, for its CPU time (time(1)'s own exec would add its few
 * milliseconds to the wall time); the figures are the medians. Target: the two commands under
 * 0.15 s of wall time.
 *
 * The subjects run without NODE_EXTRA_CA_CERTS: with it, every Node process reads and parses that
 * file of certificates before it runs a line (about 40 ms here for the system's 140 KB bundle),
 * for TLS that none of these subjects uses. When the bench's own environment has it, `node -e 0`
 * runs once more with it, so that the table shows what it costs.
 *
 *   npm run bench -- --only startup
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync } from 'node:fs'
import { appendFile, cp, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateSpool } from './processor.js'

const CLI = join(new URL('..', import.meta.url).pathname, 'bin', 'callback-spool.js')
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined
export const TARGET_STARTUP_SECONDS = 0.15

export interface StartupSubject {
  label: string
  /** Median wall time, seconds. */
  wall: number
  /** The fastest run's wall time, seconds: what an idle machine gives. */
  minWall: number
  /** Median user + system CPU time, seconds (NaN without /usr/bin/time). */
  cpu: number
  /** Every run ended with exit code 0. */
  ok: boolean
  target: boolean
}

/** `node -e` this DIR URL: the first line of DIR's first segment POSTed to URL. */
const BARE_FIRST_RECORD = [
  "const { readdirSync, readFileSync } = require('node:fs')",
  "const { request } = require('node:http')",
  'const [dir, url] = process.argv.slice(1)',
  'const segment = readdirSync(dir).sort()[0]',
  "request(url, { method: 'POST' }, (res) => res.resume()).end(readFileSync(dir + '/' + segment, 'utf8').split('\\n', 1)[0])",
].join('; ')

interface Run { wall: number, cpu: number, code: number | null }

/**
 * Every file and directory of `dir` flushed to disk, as the receiver and the processor leave what
 * they write: a copy made just before a run is otherwise still in the page cache, and the pass's
 * fdatasync of the segment (src/spool/durable-length.ts) would write it out within the timing.
 */
async function syncTree (dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await syncTree(join(dir, entry.name))
    else if (entry.isFile()) await syncFile(join(dir, entry.name))
  }
  await syncFile(dir)
}

async function syncFile (path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Records of the pass before the measured one, in the data dir in use. */
const EARLIER_RECORDS = 10_000

/**
 * `dir` after a pass over `earlier` records, with one more record spooled after them: the spool
 * is written with all of them, the last line is held back for the pass, then appended.
 */
async function dataDirInUse (dir: string, earlier: number): Promise<void> {
  await generateSpool(dir, earlier + 1)
  const [segment] = await readdir(join(dir, 'spool'))
  const path = join(dir, 'spool', segment!)
  const lines = (await readFile(path, 'utf8')).split('\n')
  const next = lines.splice(-2, 1)[0]!
  await writeFile(path, lines.join('\n'))
  const pass = spawn(process.execPath, [CLI, 'process', '--data-dir', dir, '--log-level', 'warn'], { stdio: 'inherit', env: SUBJECT_ENV })
  const [code] = await once(pass, 'close') as [number | null]
  if (code !== 0) throw new Error(`the pass over ${earlier} records exited ${code}`)
  await appendFile(path, `${next}\n`)
}

/** When the running subject was spawned, for the http target's first request. */
let spawnedAt = 0n
/** Seconds from the spawn to the first request the http target got, in this run. */
let firstRecordAfter: number | undefined

/** The subjects' environment: the bench's, less NODE_EXTRA_CA_CERTS. */
const SUBJECT_ENV: NodeJS.ProcessEnv = { ...process.env }
delete SUBJECT_ENV.NODE_EXTRA_CA_CERTS

/** One spawn of `argv`: its wall time, or through time(1) (`cpu`) its CPU time. */
async function timed (argv: string[], env: NodeJS.ProcessEnv, cpu: boolean): Promise<Run> {
  const started = process.hrtime.bigint()
  spawnedAt = started
  firstRecordAfter = undefined
  const child = !cpu || TIME === undefined
    ? spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env })
    : spawn(TIME, ['-f', 'cpu %U %S', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const [code] = await once(child, 'close') as [number | null]
  const wall = Number(process.hrtime.bigint() - started) / 1e9
  const m = /cpu ([\d.]+) ([\d.]+)\s*$/.exec(stderr)
  if (code !== 0) process.stderr.write(stderr.slice(-2000))
  return { wall, cpu: m === null ? Number.NaN : Number(m[1]) + Number(m[2]), code }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

export async function runStartupBench (rounds: number, log: (line: string) => void): Promise<StartupSubject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  const server = createServer((req, res) => {
    firstRecordAfter ??= Number(process.hrtime.bigint() - spawnedAt) / 1e9
    req.resume().on('end', () => res.end())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const target = `*=http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  try {
    const empty = join(dir, 'empty')
    await mkdir(empty)
    const oneRecord = join(dir, 'one-record')
    await generateSpool(oneRecord, 1)
    const pass = join(dir, 'pass')
    const fresh = async (): Promise<void> => {
      await rm(pass, { recursive: true, force: true })
      await cp(oneRecord, pass, { recursive: true })
      await syncTree(pass)
    }
    const inUse = join(dir, 'in-use')
    await dataDirInUse(inUse, EARLIER_RECORDS)
    const freshInUse = async (): Promise<void> => {
      await rm(pass, { recursive: true, force: true })
      await cp(inUse, pass, { recursive: true })
      await syncTree(pass)
    }
    const subjects: Array<{ label: string, target: boolean, firstRecord?: boolean, prepare?: () => Promise<void>, argv: string[], env?: NodeJS.ProcessEnv, runs: Run[] }> = [
      { label: 'node -e 0', target: false, argv: [process.execPath, '-e', '0'], runs: [] },
      ...(process.env.NODE_EXTRA_CA_CERTS === undefined
        ? []
        : [{ label: `node -e 0, NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS} as in the bench's environment`, target: false, argv: [process.execPath, '-e', '0'], env: process.env, runs: [] }]),
      { label: 'status, empty data dir', target: true, argv: [process.execPath, CLI, 'status', '--data-dir', empty], runs: [] },
      {
        label: 'process, spawn to the first record handed over',
        target: true,
        firstRecord: true,
        prepare: fresh,
        argv: [process.execPath, CLI, 'process', '--data-dir', pass, '--log-level', 'warn', '--on', target],
        runs: [],
      },
      {
        label: `process, a data dir in use (after a pass over ${EARLIER_RECORDS.toLocaleString('en')} records), spawn to the next record handed over`,
        target: true,
        firstRecord: true,
        prepare: freshInUse,
        argv: [process.execPath, CLI, 'process', '--data-dir', pass, '--log-level', 'warn', '--on', target],
        runs: [],
      },
      {
        label: 'bare Node: node:http POST of the first spool line, spawn to the record',
        target: false,
        firstRecord: true,
        argv: [process.execPath, '-e', BARE_FIRST_RECORD, join(oneRecord, 'spool'), target.slice(2)],
        runs: [],
      },
      {
        label: 'process, one pass over one record, spawn to exit',
        target: false,
        prepare: fresh,
        argv: [process.execPath, CLI, 'process', '--data-dir', pass, '--log-level', 'warn'],
        runs: [],
      },
    ]
    for (let round = 1; round <= rounds; round++) {
      for (const s of subjects) {
        await s.prepare?.()
        const run = await timed(s.argv, s.env ?? SUBJECT_ENV, false)
        if (s.firstRecord === true) {
          // The record's arrival, not the exit; a pass that never sent it is a failed run.
          if (firstRecordAfter === undefined) run.code = -1
          else run.wall = firstRecordAfter
        }
        if (TIME !== undefined) {
          await s.prepare?.()
          const timedRun = await timed(s.argv, s.env ?? SUBJECT_ENV, true)
          run.cpu = timedRun.cpu
          if (timedRun.code !== 0) run.code = timedRun.code
        }
        s.runs.push(run)
      }
    }
    return subjects.map((s) => {
      const subject: StartupSubject = {
        label: s.label,
        wall: median(s.runs.map((r) => r.wall)),
        minWall: Math.min(...s.runs.map((r) => r.wall)),
        cpu: median(s.runs.map((r) => r.cpu)),
        ok: s.runs.every((r) => r.code === 0),
        target: s.target,
      }
      log(`  start-up, ${s.label}: ${subject.wall.toFixed(3)} s wall (fastest ${subject.minWall.toFixed(3)}), ${subject.cpu.toFixed(3)} s CPU, median of ${rounds}`)
      return subject
    })
  } finally {
    server.close()
    await rm(dir, { recursive: true, force: true })
  }
}

export function startupTable (subjects: StartupSubject[]): string {
  const rows = ['| command | wall s (median) | wall s (fastest) | CPU s (median) |', '|---|---:|---:|---:|']
  for (const s of subjects) rows.push(`| ${s.label} | ${s.wall.toFixed(3)} | ${s.minWall.toFixed(3)} | ${Number.isNaN(s.cpu) ? '–' : s.cpu.toFixed(3)} |`)
  return rows.join('\n')
}

export function startupTargets (subjects: StartupSubject[]): Array<{ label: string, measured: string, pass: boolean }> {
  const node = subjects.find((s) => s.label === 'node -e 0')
  const bare = subjects.find((s) => s.label.startsWith('bare Node'))
  return subjects.filter((s) => s.target).map((s) => {
    const floor = s.label.includes('record handed over') && bare !== undefined ? `; the bare Node POST: ${bare.wall.toFixed(3)} s` : ''
    return {
      label: `start-up, ${s.label}: < ${TARGET_STARTUP_SECONDS} s`,
      measured: `${s.wall.toFixed(3)} s (node -e 0: ${node?.wall.toFixed(3) ?? '?'} s${floor})${s.ok ? '' : '; a run did not exit 0'}`,
      pass: s.ok && s.wall < TARGET_STARTUP_SECONDS,
    }
  })
}
