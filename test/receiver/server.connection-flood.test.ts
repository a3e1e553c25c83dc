/**
 * Connection limits: one client holding more idle connections than --max-connections, reopening
 * each one as it is closed, must not lock real callbacks out.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { sendNormalCallback, startLiveReceiver } from '../helpers/live-receiver.js'
import { readResponses } from '../helpers/raw-socket.js'
import { waitFor } from '../helpers/wait.js'

const FLOOD = fileURLToPath(new URL('../helpers/connection-flood.ts', import.meta.url))
const SOCKETS = 1100

/** This process's soft limit on open files (Node raises it to the hard limit at start). */
function openFilesLimit (): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))
  return Number(line?.split(/\s+/)[3])
}

test('1,100 idle connections from one client, reopened as they are closed: a real callback is still answered and spooled (defaults)', async (t) => {
  // The receiver keeps up to 1024 of them (plus the real one); the flood runs in its own process.
  assert.ok(openFilesLimit() > 1024 + 200, `the open-files limit (${openFilesLimit()}) is too low for this test: raise ulimit -n`)
  const live = await startLiveReceiver(t)
  // `ulimit -n` raised in the child's shell when the hard limit allows, for its 1,100 sockets.
  const flood = spawn('sh', ['-c', 'ulimit -n 4096 2>/dev/null; exec "$0" "$@"', process.execPath, '--import', 'tsx', FLOOD,
    String(live.port), String(SOCKETS), '200000', '60000'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  flood.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  const exited = once(flood, 'exit')
  t.after(async () => {
    if (flood.exitCode === null && flood.signalCode === null) flood.kill('SIGKILL')
    await exited
  })
  await waitFor('the flood to open its connections', () => out.includes('ready') || flood.exitCode !== null, 30_000)
  assert.ok(!out.includes('done'), `the flood ended early: ${out}`)
  const connections = (): Promise<number> => new Promise((resolve, reject) => live.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
  // The flood fills every slot and keeps reconnecting: the cap is reached and held.
  const reconnects = (): number => Number(/reconnects (\d+)\n(?![^]*reconnects)/.exec(out)?.[1] ?? 0)
  await waitFor('the receiver to hold its fill of the flood', async () => await connections() >= 1024, 30_000)
  const before = reconnects()
  await waitFor('the flood to keep reconnecting', () => reconnects() >= before + 500 && !out.includes('done'), 30_000)

  // While every slot is taken by the flood, a real callback comes in.
  assert.equal(await sendNormalCallback(live.port, '/real', 'during-flood'), 200)
  assert.ok(!out.includes('done'), 'the flood was still running when the callback was answered')
  assert.ok(live.server.stats.connections.evicted > 0, 'idle flood connections were closed to make room')
  const records = await live.records()
  assert.equal(records.length, 1)
  assert.equal(records[0]!.path, '/real')
})

const head = (lines: string[]): string => lines.join('\r\n') + '\r\n\r\n'

async function openFrom (port: number, localAddress: string): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port, localAddress })
  socket.on('error', () => {})
  await once(socket, 'connect')
  return socket
}

const closedByServer = (s: Socket): Promise<unknown> => s.destroyed ? Promise.resolve() : once(s, 'close')

test('at the cap, a new connection closes the one idle the longest; one with a request in progress is kept', async (t) => {
  // A first-byte timeout far off, so that only the cap closes the idle ones here.
  const live = await startLiveReceiver(t, { maxConnections: 3, firstByteTimeoutMs: 120_000 })
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() })
  const connections = (): Promise<number> => new Promise((resolve, reject) => live.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
  // busy: a request whose body is still coming; then two idle ones, oldest first.
  const busy = await openFrom(live.port, '127.0.0.1')
  busy.resume()
  busy.write(head(['POST /busy HTTP/1.1', 'Host: x', 'Content-Length: 6', 'Connection: close']) + 'abc')
  sockets.push(busy)
  await waitFor('the busy request to start', () => live.server.stats.inFlight === 1)
  for (let i = 0; i < 2; i++) {
    const s = await openFrom(live.port, '127.0.0.1')
    s.resume()
    sockets.push(s)
    await waitFor('the server to count it', async () => await connections() === i + 2)
  }
  const [, oldestIdle, newestIdle] = sockets as [Socket, Socket, Socket]
  assert.equal(await sendNormalCallback(live.port, '/real', 'at-cap'), 200)
  await closedByServer(oldestIdle)
  assert.equal(newestIdle.destroyed, false)
  assert.equal(busy.destroyed, false)
  busy.write('def')
  await closedByServer(busy)
  assert.deepEqual((await live.records()).map((r) => r.path).sort(), ['/busy', '/real'])
  assert.deepEqual({ ...live.server.stats.connections }, { evicted: 1, refused: 0 })
})

test('per-address cap: one address cannot take every slot; others still get in', async (t) => {
  const live = await startLiveReceiver(t, { maxConnections: 10, maxConnectionsPerAddress: 2 })
  const sockets: Socket[] = []
  t.after(() => { for (const s of sockets) s.destroy() })
  // Two requests in progress from 127.0.0.2: its cap is reached, and nothing of it is idle.
  for (let i = 0; i < 2; i++) {
    const s = await openFrom(live.port, '127.0.0.2')
    s.resume()
    s.write(head([`POST /held-${i} HTTP/1.1`, 'Host: x', 'Content-Length: 4', 'Connection: close']) + 'ab')
    sockets.push(s)
  }
  await waitFor('both requests to start', () => live.server.stats.inFlight === 2)
  const third = await openFrom(live.port, '127.0.0.2')
  sockets.push(third)
  third.resume()
  await closedByServer(third)
  assert.equal(live.server.stats.connections.refused, 1)
  // Another address is not held back by it.
  assert.equal(await sendNormalCallback(live.port, '/other', 'other-address'), 200)
  for (const s of sockets.slice(0, 2)) s.write('cd')
  await Promise.all(sockets.slice(0, 2).map(closedByServer))
  assert.deepEqual((await live.records()).map((r) => r.path).sort(), ['/held-0', '/held-1', '/other'])
})

test('a connection that sends nothing is closed after --first-byte-timeout; one that has sent a request is not', async (t) => {
  const live = await startLiveReceiver(t, { firstByteTimeoutMs: 200 })
  const silent = await openFrom(live.port, '127.0.0.1')
  silent.resume()
  const talking = await openFrom(live.port, '127.0.0.1')
  const answered = readResponses(talking, 1)
  talking.write(head(['POST /kept HTTP/1.1', 'Host: x', 'Content-Length: 3']) + 'a=1')
  t.after(() => { silent.destroy(); talking.destroy() })
  await answered
  await closedByServer(silent)
  // Kept alive past the first-byte timeout: a second request on it is still answered.
  await sleep(400)
  assert.equal(talking.destroyed, false)
  const second = readResponses(talking, 1)
  talking.write(head(['POST /again HTTP/1.1', 'Host: x', 'Content-Length: 3']) + 'a=2')
  assert.match(await second, /^HTTP\/1\.1 200 /)
  assert.deepEqual((await live.records()).map((r) => r.path), ['/kept', '/again'])
})
