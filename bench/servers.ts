/**
 * Starts one server under test as its own process (optionally under strace, with slowed syncs),
 * waits for the JSON line that names its port, and stops it with SIGTERM like an operator would.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SLOW_SYNC_PREFIX } from './tools.js'

export type ServerKind = 'bare' | 'naive' | 'naive-async' | 'receiver'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

export interface RunningServer {
  kind: ServerKind
  port: number
  /** Where it writes: the naive server's file, or the receiver's data dir. */
  dataPath: string
  /** SIGTERM, wait for a clean exit, then remove its files once `inspect` has looked at them. */
  stop (inspect?: (dataPath: string) => Promise<void>): Promise<void>
}

function commandFor (kind: ServerKind, dir: string): { args: string[], dataPath: string } {
  switch (kind) {
    case 'bare':
      return { args: ['--import', 'tsx', 'bench/servers/bare.ts'], dataPath: dir }
    case 'naive':
    case 'naive-async': {
      const file = join(dir, 'naive.ndjson')
      return { args: ['--import', 'tsx', 'bench/servers/naive.ts', file, kind === 'naive' ? 'serial' : 'async'], dataPath: file }
    }
    case 'receiver':
      return {
        args: ['bin/callback-spool.js', 'receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dir, '--durability', 'fsync'],
        dataPath: dir,
      }
  }
}

export async function startServer (kind: ServerKind, slowSync: boolean): Promise<RunningServer> {
  const dir = await mkdtemp(join(tmpdir(), 'callback-spool-bench-'))
  const { args, dataPath } = commandFor(kind, dir)
  const argv = slowSync ? [...SLOW_SYNC_PREFIX, process.execPath, ...args] : [process.execPath, ...args]
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CALLBACK_SPOOL_LOG_LEVEL: 'info' },
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  try {
    const { port, pid } = await waitForPort(child, (s) => { output = (output + s).slice(-8000) })
    return {
      kind,
      port,
      dataPath,
      async stop (inspect) {
        // Signal node itself: under strace, the child we spawned is strace.
        process.kill(pid, 'SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
        const code = await exited
        clearTimeout(timer)
        try {
          if (code !== 0) throw new Error(`${kind} exited with ${code} after SIGTERM:\n${output}`)
          await inspect?.(dataPath)
        } finally {
          await rm(dir, { recursive: true, force: true })
        }
      },
    }
  } catch (err) {
    child.kill('SIGKILL')
    await rm(dir, { recursive: true, force: true })
    throw new Error(`${kind} did not start: ${(err as Error).message}\n${output}`)
  }
}

function waitForPort (child: ChildProcess, keep: (s: string) => void): Promise<{ port: number, pid: number }> {
  return new Promise((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => reject(new Error('no "port" line within 20 s')), 20_000)
    const onData = (s: string): void => {
      keep(s)
      buffered += s
      let nl: number
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        let parsed: { port?: unknown, pid?: unknown }
        try { parsed = JSON.parse(line) as typeof parsed } catch { continue }
        if (typeof parsed.port === 'number' && typeof parsed.pid === 'number') {
          clearTimeout(timer)
          resolve({ port: parsed.port, pid: parsed.pid })
        }
      }
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.stderr!.setEncoding('utf8').on('data', keep)
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`exited with ${code} before listening`))
    })
  })
}
