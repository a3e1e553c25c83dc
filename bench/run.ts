/**
 * `npm run bench`: the receiver (spawned through the real CLI, --durability fsync) against a bare
 * node:http server (the ceiling) and a naive one that fdatasyncs once per request, at 1, 16 and
 * 64 connections; then the two durable ones again with every sync slowed to 5 ms by strace, as
 * on a real disk. Prints a markdown table for the README and the issue's targets as PASS/FAIL.
 *
 *   npm run bench               2 s warm-up + 10 s per run, about 3 minutes
 *   npm run bench -- --quick    1 s warm-up + 3 s per run
 *
 * Exits 1 if a target is missed, 2 if wrk or strace is missing.
 */
import { statfs } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { parseArgs } from 'node:util'
import { countLines } from './count-lines.js'
import { medianSyncMs } from './disk-probe.js'
import { evaluateTargets, markdownTable, targetsText, type Cell } from './report.js'
import { startServer, type ServerKind } from './servers.js'
import { missingTools, wrkVersion } from './tools.js'
import { runWrk } from './wrk.js'

const TMPFS_MAGIC = 0x01021994
const KINDS: ServerKind[] = ['bare', 'naive', 'receiver']
const CONNECTIONS = [1, 16, 64]
const SLOW_CONNECTIONS = [64, 1]

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seconds: { type: 'string' },
  },
})
const seconds = values.seconds !== undefined ? Number(values.seconds) : values.quick ? 3 : 10
const warmupSeconds = values.quick ? 1 : 2
if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`Expected \`--seconds\` to be a positive integer, got \`${values.seconds}\``)

const log = (line: string): void => { process.stderr.write(line + '\n') }

async function measure (kind: ServerKind, connections: number, slowSync: boolean): Promise<Cell> {
  const server = await startServer(kind, slowSync)
  let cell: Cell | undefined
  try {
    const warmup = await runWrk(server.port, connections, warmupSeconds)
    const wrk = await runWrk(server.port, connections, seconds)
    cell = { kind, connections, slowSync, wrk }
    const measured = cell
    await server.stop(async (dataPath) => {
      if (kind === 'bare') return
      // After a clean stop every line is complete: what wrk saw acknowledged must all be there.
      const count = await countLines(dataPath)
      measured.spool = {
        lines: count.lines,
        acknowledged: warmup.acknowledged + wrk.acknowledged,
        inFlightAllowance: 2 * connections,
        tornFiles: count.tornFiles,
      }
    })
  } catch (err) {
    if (cell === undefined) await server.stop().catch(() => {})
    throw err
  }
  const w = cell.wrk
  const errors = Object.entries(w.errors).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ')
  const spooled = cell.spool === undefined ? '' : `, ${cell.spool.lines} lines for ${cell.spool.acknowledged} acked`
  log(`  ${kind.padEnd(8)} ${String(connections).padStart(2)} conns${slowSync ? ', 5 ms sync' : ''}: ` +
    `${Math.round(w.requestsPerSecond)} req/s, p50 ${w.p50Ms.toFixed(2)} ms, p99 ${w.p99Ms.toFixed(2)} ms${spooled}${errors === '' ? '' : `, errors: ${errors}`}`)
  return cell
}

async function main (): Promise<number> {
  const problems = missingTools()
  if (problems.length > 0) {
    for (const p of problems) log(p)
    return 2
  }
  const fs = await statfs(tmpdir())
  if (fs.type === TMPFS_MAGIC) log(`warning: ${tmpdir()} is a tmpfs, where fdatasync costs nothing; set TMPDIR to a directory on a disk`)

  const started = new Date()
  log(`callback-spool bench, ${started.toISOString()}: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ` +
    `${wrkVersion()}, load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}, fdatasync in ${tmpdir()} ${(await medianSyncMs()).toFixed(2)} ms (median); ` +
    `${warmupSeconds} s warm-up + ${seconds} s per run`)
  const cells: Cell[] = []
  for (const connections of CONNECTIONS) {
    for (const kind of KINDS) cells.push(await measure(kind, connections, false))
  }
  log('  every fdatasync/fsync slowed to 5 ms (strace inject):')
  for (const connections of SLOW_CONNECTIONS) {
    for (const kind of ['naive', 'receiver'] as const) cells.push(await measure(kind, connections, true))
  }

  const targets = evaluateTargets(cells)
  process.stdout.write(`\n${markdownTable(cells)}\n\n${targetsText(targets)}\n`)
  return targets.every((t) => t.pass) ? 0 : 1
}

process.exitCode = await main()
