/**
 * Soak: mixed good and hostile traffic at a steady rate against the real receiver (spawned from
 * bin/), for a long time. Not part of `npm test`.
 *
 *   npm run build && node --import tsx bench/soak.ts [--duration 10m] [--rate 500] [--keep]
 *
 * Prints the receiver's RSS at start and end, the count of 2xx answers and of spooled records
 * (they must be equal: every 2xx is a durable record, and nothing else is spooled), and the
 * answers and errors by kind of traffic. Exit code 1 when the counts differ or the receiver died.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseDuration } from '../src/units.js'
import { fuzzGenerator } from '../test/helpers/fuzz-bodies.js'

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10m' },
    rate: { type: 'string', default: '500' },
    seed: { type: 'string', default: '1' },
    keep: { type: 'boolean', default: false },
  },
})
const durationMs = parseDuration('--duration', args.duration)
const rate = Number(args.rate)
const MAX_BODY = 8192
const MAX_OUTSTANDING = 1000

type Tally = Map<string, number>
const byKind = new Map<string, Tally>()
let twoxx = 0
let outstanding = 0
const count = (kind: string, outcome: string): void => {
  let t = byKind.get(kind)
  if (t === undefined) byKind.set(kind, t = new Map())
  t.set(outcome, (t.get(outcome) ?? 0) + 1)
}

async function rssKiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN)
}

const dataDir = await mkdtemp(join(tmpdir(), 'callback-spool-soak-'))
// With a token, so the access check runs on every request (and the wrong-token kind gets 404).
const TOKEN = 'soakTOKEN-0123456789abcdef'
const child = spawn(process.execPath, ['bin/callback-spool.js', 'receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir,
  '--max-body', String(MAX_BODY), '--request-timeout', '2s', '--max-connections', '2048'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CALLBACK_SPOOL_TOKEN: TOKEN } })
let port = 0
let logTail = ''
child.stdout.setEncoding('utf8')
const listening = new Promise<void>((resolve) => {
  child.stdout.on('data', (chunk: string) => {
    logTail = (logTail + chunk).slice(-4000)
    const m = /"port":(\d+)/.exec(chunk)
    if (m !== null && port === 0) { port = Number(m[1]); resolve() }
  })
})
await Promise.race([listening, once(child, 'exit').then(() => { throw new Error(`receiver exited at start: ${logTail}`) })])
let died = false
child.on('exit', () => { died = true })

const agent = new Agent({ keepAlive: true, maxSockets: 64 })
const gen = fuzzGenerator(Number(args.seed))
let seq = 0

function httpPost (kind: string, path: string, body: Buffer, headers: Record<string, string>, method = 'POST'): void {
  outstanding++
  const req = request({ host: '127.0.0.1', port, method, path, headers, agent }, (res) => {
    res.resume()
    res.on('end', () => {
      outstanding--
      const status = res.statusCode ?? 0
      if (status >= 200 && status < 300) twoxx++
      count(kind, String(status))
    })
  })
  req.on('error', (err: NodeJS.ErrnoException) => { outstanding--; count(kind, `error ${err.code ?? err.message}`) })
  req.end(body)
}

/** Raw bytes on a fresh connection; counts the first status line, or how the connection ended. */
function raw (kind: string, data: string | Buffer, keepOpen = false): void {
  outstanding++
  const socket = connect({ host: '127.0.0.1', port })
  let got = ''
  let settled = false
  const settle = (outcome: string): void => {
    if (settled) return
    settled = true
    outstanding--
    const m = /^HTTP\/1\.1 (\d{3})/.exec(got)
    const status = m === null ? outcome : m[1]!
    if (m !== null && m[1]!.startsWith('2')) twoxx++
    count(kind, status)
    socket.destroy()
  }
  socket.setEncoding('latin1')
  socket.on('data', (d: string) => { got += d })
  socket.on('error', (err: NodeJS.ErrnoException) => settle(`error ${err.code ?? err.message}`))
  socket.on('close', () => settle('closed without answer'))
  socket.on('connect', () => {
    socket.write(data)
    if (!keepOpen) socket.end()
  })
  // A stalled connection the server never closes would be a finding: give up after 10 s.
  setTimeout(() => settle('still open after 10 s'), 10_000).unref()
}

function good (): void {
  const id = `soak-${seq++}`
  if (seq % 2 === 0) {
    httpPost('good-json', `/${TOKEN}/delivery`, Buffer.from(JSON.stringify({ message_id: id, number: '+33600112233', status: 'DELIVERED', delivery_date: '2026-11-27 12:00:00' })), { 'Content-Type': 'application/json' })
  } else {
    httpPost('good-form', `/reply?id=${id}&token=${TOKEN}`, Buffer.from(`message_id=${id}&number=%2B33600112233&text=Bonjour+%C3%A0+vous&reception_date=2026-11-27+12%3A00%3A00`), { 'Content-Type': 'application/x-www-form-urlencoded' })
  }
}

function hostile (): void {
  const r = Math.random()
  if (r < 0.25) {
    const c = gen.next()
    httpPost('fuzz-body', `/${TOKEN}/fuzz`, c.body, c.contentType === undefined ? {} : { 'Content-Type': c.contentType })
  } else if (r < 0.35) {
    raw('oversize-declared', `POST /${TOKEN}/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${MAX_BODY + 1}\r\n\r\n${'a'.repeat(100)}`)
  } else if (r < 0.45) {
    raw('oversize-chunked', `POST /${TOKEN}/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n${'a'.repeat(0x2000)}\r\n10\r\n${'b'.repeat(16)}\r\n0\r\n\r\n`)
  } else if (r < 0.55) {
    raw('not-http', 'HELLO THERE\r\n\r\n')
  } else if (r < 0.62) {
    raw('headers-too-many', `POST / HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 150 }, (_, i) => `X-${i}: v\r\n`).join('')}Content-Length: 0\r\n\r\n`)
  } else if (r < 0.69) {
    raw('headers-too-large', `POST / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\nContent-Length: 0\r\n\r\n`)
  } else if (r < 0.76) {
    httpPost('method-405', `/${TOKEN}/`, Buffer.alloc(0), {}, 'DELETE')
  } else if (r < 0.8) {
    raw('stalled-headers', 'POST / HTTP/1.1\r\nHost: x\r\n', true)
  } else if (r < 0.84) {
    raw('stalled-body', `POST /${TOKEN}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly a bit`, true)
  } else if (r < 0.9) {
    httpPost('nesting-bomb', `/${TOKEN}/bomb`, Buffer.from(`{"a":${'['.repeat(3000)}${']'.repeat(3000)}}`), { 'Content-Type': 'application/json' })
  } else if (r < 0.95) {
    httpPost('wrong-token', `/${TOKEN.slice(0, -1)}x/delivery`, Buffer.from('number=%2B33600112233&stop_date=2026-11-27'), {})
  } else {
    httpPost('proto-keys', `/${TOKEN}/proto`, Buffer.from('{"__proto__":{"x":1},"constructor":{"prototype":{"y":1}},"number":"+33600112233"}'), { 'Content-Type': 'application/x-www-form-urlencoded' })
  }
}

const rssStart = await rssKiB(child.pid!)
const started = Date.now()
let issued = 0
let skipped = 0
let rssMax = rssStart
/** RSS every tenth of the run, to tell a plateau from a leak. */
const rssSamples: number[] = []
let outstandingMax = 0
process.stderr.write(`soak: ${rate} req/s for ${args.duration} against pid ${child.pid} on port ${port}, data in ${dataDir}\n`)
// Catch up to the schedule on each tick: timers drift under load, the rate must not.
const ticker = setInterval(() => {
  const due = Math.floor((Date.now() - started) / 1000 * rate)
  while (issued < due) {
    issued++
    if (outstanding >= MAX_OUTSTANDING) { skipped++; continue }
    if (Math.random() < 0.7) good()
    else hostile()
  }
}, 10)
let samplerTicks = 0
const sampleEvery = Math.max(1, Math.round(durationMs / 10_000))
const sampler = setInterval(() => {
  outstandingMax = Math.max(outstandingMax, outstanding)
  if (died) return
  const tick = ++samplerTicks
  rssKiB(child.pid!).then((r) => {
    rssMax = Math.max(rssMax, r)
    if (tick % sampleEvery === 0) rssSamples.push(r)
  }, () => {})
}, 1000)
await new Promise((resolve) => setTimeout(resolve, durationMs))
clearInterval(ticker)
const rssEnd = died ? NaN : await rssKiB(child.pid!)
// Let what is in flight finish (stalled connections are closed by the 2 s timeout).
const waitStart = Date.now()
// eslint-disable-next-line no-unmodified-loop-condition -- the response handlers decrement it
while (outstanding > 0 && Date.now() - waitStart < 15_000) await new Promise((resolve) => setTimeout(resolve, 50))
clearInterval(sampler)
agent.destroy()
const aliveAtEnd = !died
child.kill('SIGTERM')
const [code] = await once(child, 'exit') as [number | null]

let spooled = 0
const spoolDir = join(dataDir, 'spool')
for (const name of (await readdir(spoolDir)).filter((n) => n.endsWith('.ndjson'))) {
  const text = await readFile(join(spoolDir, name), 'utf8')
  for (const line of text.split('\n')) if (line !== '') spooled++
}
if (!args.keep) await rm(dataDir, { recursive: true, force: true })

const sent = [...byKind.values()].reduce((n, t) => n + [...t.values()].reduce((a, b) => a + b, 0), 0)
console.log(`duration          ${((Date.now() - started) / 1000).toFixed(1)} s at ${rate} req/s target; sent ${sent} (${(sent / (durationMs / 1000)).toFixed(0)}/s), not sent because ${MAX_OUTSTANDING} were outstanding: ${skipped}`)
console.log(`receiver RSS      start ${(rssStart / 1024).toFixed(1)} MiB, end ${(rssEnd / 1024).toFixed(1)} MiB, max ${(rssMax / 1024).toFixed(1)} MiB; alive at end: ${aliveAtEnd}; exit code after SIGTERM: ${code}`)
console.log(`RSS every ${sampleEvery} s  ${rssSamples.map((r) => (r / 1024).toFixed(0)).join(' ')} MiB`)
console.log(`most outstanding  ${outstandingMax} requests/connections at once (stalled ones stay ~2 s)`)
console.log(`2xx answers       ${twoxx}`)
console.log(`spooled records   ${spooled}   ${twoxx === spooled ? '(equal)' : '(DIFFERENT)'}`)
console.log(`still outstanding ${outstanding}`)
console.log('answers by kind:')
for (const [kind, tally] of [...byKind.entries()].sort()) {
  console.log(`  ${kind.padEnd(20)} ${[...tally.entries()].sort().map(([k, v]) => `${k}: ${v}`).join(', ')}`)
}
if (twoxx !== spooled || !aliveAtEnd || code !== 0) process.exitCode = 1
