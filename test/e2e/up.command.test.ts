import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { supervise } from '../../src/up/supervise.js'
import { upChildArgs } from '../../src/up/run.js'
import { BIN } from '../helpers/cli.js'
import { makeTempDir, tempDir } from '../helpers/tmp.js'

interface LogLine { msg: string, [key: string]: unknown }

/** Collects the JSON log lines a process prints, and lets a test wait for one. */
function watchLogs (stream: NodeJS.ReadableStream): { lines: LogLine[], waitFor: (match: (l: LogLine) => boolean, after?: number) => Promise<LogLine> } {
  const lines: LogLine[] = []
  let waiters: Array<() => void> = []
  createInterface({ input: stream }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as LogLine)
    } catch {
      return
    }
    const w = waiters
    waiters = []
    for (const f of w) f()
  })
  const waitFor = async (match: (l: LogLine) => boolean, after = 0): Promise<LogLine> => {
    for (;;) {
      const found = lines.slice(after).find(match)
      if (found !== undefined) return found
      await new Promise<void>((resolve) => waiters.push(resolve))
    }
  }
  return { lines, waitFor }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function logCollector (): { logger: pino.Logger, lines: LogLine[] } {
  const lines: LogLine[] = []
  const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as LogLine) } })
  return { logger, lines }
}

test('the children `up` runs: receive and process --follow on the same data dir, --config passed on', () => {
  assert.deepEqual(upChildArgs({ dataDir: 'data', port: '8080' }), {
    receive: ['receive', '--data-dir', 'data', '--port', '8080'],
    process: ['process', '--follow', '--data-dir', 'data'],
  })
  const withConfig = upChildArgs({ dataDir: '/d', host: '::1', configPath: '/etc/cs.json' })
  assert.deepEqual(withConfig.receive, ['--config', '/etc/cs.json', 'receive', '--data-dir', '/d', '--host', '::1'])
  assert.deepEqual(withConfig.process, ['--config', '/etc/cs.json', 'process', '--follow', '--data-dir', '/d'])
})

test('a supervised child that keeps dying is restarted with a growing back-off, and not after stop()', async (t) => {
  const { logger, lines } = logCollector()
  const child = supervise({ name: 'crasher', command: process.execPath, args: ['-e', 'process.exit(3)'] },
    { logger, minBackoffMs: 20, maxBackoffMs: 80 })
  t.after(() => child.stop())
  while (child.starts < 5) await new Promise((resolve) => setTimeout(resolve, 20))
  await child.stop()
  const delays = lines.filter((l) => l.restart_in_ms !== undefined).map((l) => l.restart_in_ms)
  assert.deepEqual(delays.slice(0, 4), [20, 40, 80, 80])
  assert.ok(lines.filter((l) => l.restart_in_ms !== undefined).every((l) => l.code === 3))
  const starts = child.starts
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(child.starts, starts, 'no restart after stop()')
})

test('stop() sends SIGTERM, and SIGKILL to a child that ignores it', async (t) => {
  const { logger } = logCollector()
  const dir = await tempDir(t)
  const readyFile = join(dir, 'ready')
  const polite = supervise({ name: 'polite', command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'] }, { logger })
  const stubborn = supervise({
    name: 'stubborn',
    command: process.execPath,
    args: ['-e', `process.on("SIGTERM", () => {}); require("fs").writeFileSync(${JSON.stringify(readyFile)}, ""); setInterval(() => {}, 1000)`],
  }, { logger, stopTimeoutMs: 300 })
  // Wait until the stubborn child has installed its SIGTERM handler.
  while (!existsSync(readyFile)) await new Promise((resolve) => setTimeout(resolve, 20))
  const [politePid, stubbornPid] = [polite.pid!, stubborn.pid!]
  assert.equal(await polite.stop(), true)
  assert.equal(await stubborn.stop(), false, 'it had to be killed')
  assert.equal(alive(politePid), false)
  assert.equal(alive(stubbornPid), false)
})

async function startUp (t: TestContext): Promise<{ up: ChildProcess, dir: string, logs: ReturnType<typeof watchLogs> }> {
  const dir = await makeTempDir()
  const up = spawn(process.execPath, [BIN, 'up', '--port', '0', '--host', '127.0.0.1', '--data-dir', dir],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CALLBACK_SPOOL_LOG_LEVEL: 'info' } })
  const logs = watchLogs(up.stdout!)
  up.stderr!.resume()
  t.after(async () => {
    if (up.exitCode === null && up.signalCode === null) {
      up.kill('SIGKILL')
      await once(up, 'exit')
    }
    for (const l of logs.lines) {
      if (typeof l.child_pid === 'number' && alive(l.child_pid)) process.kill(l.child_pid, 'SIGKILL')
    }
    await rm(dir, { recursive: true, force: true })
  })
  return { up, dir, logs }
}

const isListening = (l: LogLine): boolean => l.component === 'receiver' && l.msg.startsWith('listening on')
const isReceiveStarted = (l: LogLine): boolean => l.child === 'receive' && typeof l.child_pid === 'number'

test('`up`: a receiver that dies is restarted; SIGTERM stops both children and exits 0', async (t) => {
  const { up, dir, logs } = await startUp(t)
  const first = await logs.waitFor(isListening)
  const firstPid = (await logs.waitFor(isReceiveStarted)).child_pid as number
  assert.equal(first.pid, firstPid, 'the listening receiver is the child up started')
  const post1 = await fetch(`http://127.0.0.1:${first.port as number}/cb`, { method: 'POST', body: 'message_id=one&status=DELIVERED' })
  assert.equal(post1.status, 200)

  const seen = logs.lines.length
  process.kill(firstPid, 'SIGKILL')
  const exited = await logs.waitFor((l) => l.child === 'receive' && l.signal === 'SIGKILL', seen)
  assert.equal(typeof exited.restart_in_ms, 'number')
  const second = await logs.waitFor(isListening, logs.lines.indexOf(exited))
  assert.notEqual(second.pid, firstPid)
  assert.equal(alive(second.pid as number), true)
  const post2 = await fetch(`http://127.0.0.1:${second.port as number}/cb`, { method: 'POST', body: 'message_id=two&status=DELIVERED' })
  assert.equal(post2.status, 200)

  up.kill('SIGTERM')
  const [code, signal] = await once(up, 'exit') as [number | null, NodeJS.Signals | null]
  assert.equal(signal, null)
  assert.equal(code, 0)
  const childPids = logs.lines.filter((l) => typeof l.child_pid === 'number').map((l) => l.child_pid as number)
  assert.ok(childPids.length >= 3, 'two receivers and at least one processor were started')
  for (const pid of childPids) assert.equal(alive(pid), false, `child ${pid} stopped with up`)
  assert.ok(logs.lines.some((l) => l.child === 'receive' && l.msg === 'receive stopped' && l.code === 0))
  const processStart = logs.lines.find((l) => l.child === 'process' && typeof l.child_pid === 'number')
  assert.deepEqual((processStart?.args as string[]).slice(1), ['process', '--follow', '--data-dir', dir], 'the processor follows the same data dir')

  const spool = join(dir, 'spool')
  const text = (await Promise.all((await readdir(spool)).filter((f) => f.endsWith('.ndjson')).sort().map((f) => readFile(join(spool, f), 'utf8')))).join('')
  const ids = text.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { fields: { message_id: string } }).fields.message_id)
  assert.deepEqual(ids, ['one', 'two'])
})

test('a child that exits 64 or 78 is not restarted: restarting cannot mend bad usage or configuration', { timeout: 30_000 }, async () => {
  const { logger, lines } = logCollector()
  for (const code of [64, 78]) {
    const gaveUp = new Promise<{ code: number | null, reason: string }>((resolve) => {
      supervise({ name: 'misconfigured', command: process.execPath, args: ['-e', `process.exit(${code})`] },
        { logger, minBackoffMs: 10, onGiveUp: resolve })
    })
    assert.deepEqual(await gaveUp, { code, signal: null, reason: 'exit code' })
  }
  assert.equal(lines.filter((l) => l.restart_in_ms !== undefined).length, 0, 'no restart was scheduled')
})

test('a child that fails 5 times in a row, each soon after its start, is given up on, as systemd\'s start limit does', { timeout: 60_000 }, async (t) => {
  const { logger, lines } = logCollector()
  let child: ReturnType<typeof supervise> | undefined
  const gaveUp = new Promise<{ code: number | null, reason: string }>((resolve) => {
    child = supervise({ name: 'crasher', command: process.execPath, args: ['-e', 'process.exit(3)'] },
      { logger, minBackoffMs: 10, maxBackoffMs: 40, onGiveUp: resolve })
  })
  t.after(() => child?.stop())
  assert.deepEqual(await gaveUp, { code: 3, signal: null, reason: 'start limit' })
  assert.equal(child!.starts, 5)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(child!.starts, 5, 'not started again')
  assert.match(lines.at(-1)!.msg, /within 10 s of its start 5 times in a row/)

  // Slow failures stay under the limit: each run lasts 0.6 s, against 3 failures within 0.3 s.
  const slowState = { gaveUp: false }
  const slow = supervise({ name: 'slow', command: process.execPath, args: ['-e', 'setTimeout(() => process.exit(3), 600)'] },
    { logger, minBackoffMs: 10, maxBackoffMs: 10, startLimitBurst: 3, startLimitIntervalMs: 300, onGiveUp: () => { slowState.gaveUp = true } })
  t.after(() => slow.stop())
  while (slow.starts < 4 && !slowState.gaveUp) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(slowState.gaveUp, false, 'restarted past the burst, as the starts were spread out')
})

function spawnSyncCli (args: string[]): number | null {
  return spawnSync(process.execPath, [BIN, ...args], { stdio: 'ignore', timeout: 30_000 }).status
}

/** Runs `up` until it exits (within 60 s), its JSON log lines parsed. */
async function upUntilExit (t: TestContext, args: string[]): Promise<{ code: number | null, lines: LogLine[], stderr: string }> {
  const dir = await tempDir(t)
  const up = spawn(process.execPath, [BIN, 'up', '--host', '127.0.0.1', '--data-dir', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const logs = watchLogs(up.stdout!)
  let stderr = ''
  up.stderr!.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const timer = setTimeout(() => up.kill('SIGKILL'), 60_000)
  t.after(() => {
    clearTimeout(timer)
    for (const l of logs.lines) {
      if (typeof l.child_pid === 'number' && alive(l.child_pid)) process.kill(l.child_pid, 'SIGKILL')
    }
  })
  const [code] = await once(up, 'exit') as [number | null]
  return { code, lines: logs.lines, stderr }
}

test('`up` passes the processor\'s flags on; a processor that exits for a bad value stops `up` with its code', { timeout: 90_000 }, async (t) => {
  const alone = spawnSyncCli(['process', '--data-dir', await tempDir(t), '--max-attempts', '0'])
  assert.ok(alone === 64 || alone === 78, `process exits ${alone}`)
  const run = await upUntilExit(t, ['--port', '0', '--max-attempts', '0', '--on', 'reply=file:/dev/null', '--on', 'delivery=file:/dev/null'])
  assert.equal(run.code, alone, run.stderr)
  const processStarts = run.lines.filter((l) => l.child === 'process' && typeof l.child_pid === 'number')
  assert.equal(processStarts.length, 1, 'started once, not restarted')
  assert.deepEqual((processStarts[0]!.args as string[]).slice(-6), ['--on', 'reply=file:/dev/null', '--on', 'delivery=file:/dev/null', '--max-attempts', '0'])
  const receiverPids = run.lines.filter((l) => l.child === 'receive' && typeof l.child_pid === 'number').map((l) => l.child_pid as number)
  for (const pid of receiverPids) assert.equal(alive(pid), false, 'the receiver was stopped too')
  assert.match(run.stderr, /max-attempts/)
})

test('`up` on a port another program holds gives up after 5 fast failures and exits 69, the receiver\'s code', { timeout: 90_000 }, async (t) => {
  const squatter = createServer()
  squatter.listen(0, '127.0.0.1')
  await once(squatter, 'listening')
  t.after(() => squatter.close())
  const port = (squatter.address() as { port: number }).port
  const run = await upUntilExit(t, ['--port', String(port)])
  assert.equal(run.code, 69, run.stderr)
  assert.equal(run.lines.filter((l) => l.child === 'receive' && typeof l.child_pid === 'number').length, 5)
  assert.match(run.stderr, /EADDRINUSE/)
  assert.ok(run.lines.some((l) => l.reason === 'start limit'))
})
