/** Runs wrk with post-callback.lua and returns what it measured. */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const SCRIPT = fileURLToPath(new URL('post-callback.lua', import.meta.url))
const BODY = fileURLToPath(new URL('delivery-callback.json', import.meta.url))

export interface WrkResult {
  requests: number
  /** Answers with a status under 400, as wrk counts them: what the server acknowledged. */
  acknowledged: number
  seconds: number
  requestsPerSecond: number
  errors: { connect: number, read: number, write: number, status: number, timeout: number }
  p50Ms: number
  p99Ms: number
  maxMs: number
}

interface RawResult {
  requests: number
  duration_us: number
  errors: WrkResult['errors']
  latency_us: { p50: number, p99: number, max: number }
}

export async function runWrk (port: number, connections: number, seconds: number): Promise<WrkResult> {
  // One wrk thread: it is enough to saturate a Node server, and leaves the most CPU to the server
  // on a 2-core machine where both share the cores.
  const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', SCRIPT, `http://127.0.0.1:${port}/callbacks`]
  const child = spawn('wrk', args, { env: { ...process.env, BENCH_BODY_FILE: BODY }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s })
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', resolve)
  })
  const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '))
  if (code !== 0 || line === undefined) throw new Error(`wrk ${args.join(' ')} failed (exit ${code}):\n${out}`)
  const raw = JSON.parse(line.slice('BENCH_RESULT '.length)) as RawResult
  const secs = raw.duration_us / 1e6
  return {
    requests: raw.requests,
    acknowledged: raw.requests - raw.errors.status,
    seconds: secs,
    requestsPerSecond: raw.requests / secs,
    errors: raw.errors,
    p50Ms: raw.latency_us.p50 / 1000,
    p99Ms: raw.latency_us.p99 / 1000,
    maxMs: raw.latency_us.max / 1000,
  }
}
