import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { readdir, readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { test, type TestContext } from 'node:test'
import { pino } from 'pino'
import { supervise } from '../src/up/supervise.js'
import { upChildArgs } from '../src/up/run.js'
import { BIN } from './helpers/cli.js'
import { makeTempDir, tempDir } from './helpers/tmp.js'

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
