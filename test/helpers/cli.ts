/** Spawns the real CLI (bin/callback-spool.js, which runs dist/: `npm run build` first). */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))
export const BIN = fileURLToPath(new URL('../../bin/callback-spool.js', import.meta.url))

export interface CliProcess {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  /** Resolves with the exit code and signal. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Runs the CLI; `wrapper` (e.g. strace and its options) runs it under another program. */
export function runCli (args: string[], env: Record<string, string> = {}, wrapper: string[] = []): CliProcess {
  const argv = [...wrapper, process.execPath, BIN, ...args]
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO,
    // The test's own CALLBACK_SPOOL_* must not leak in.
    env: { ...withoutSpoolEnv(process.env), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c })
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }))
  return { child, stdout: () => out, stderr: () => err, exited }
}

export function withoutSpoolEnv (env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('CALLBACK_SPOOL_') && v !== undefined) out[k] = v
  return out
}

export interface CliReceiver extends CliProcess {
  port: number
  /** The receiver's own pid, from its log line (not the wrapper's). */
  pid: number
}

/**
 * Starts `receive --port 0` and resolves with the port from its 'listening' log line; rejects
 * if it exits first or does not listen within 20 s.
 */
export function startCliReceiver (dataDir: string, extra: string[] = [], env: Record<string, string> = {}): Promise<CliReceiver> {
  return waitListening(runCli(['receive', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir, ...extra], env))
}

/**
 * Starts `receive --port 0` under `wrapper` (e.g. strace and its options), and SIGKILLs the
 * receiver itself when the test ends: killing the wrapper would only detach it.
 */
export async function startWrappedReceiver (t: TestContext, wrapper: string[], args: string[], env: Record<string, string> = {}): Promise<CliReceiver> {
  const cli = await waitListening(runCli(['receive', '--host', '127.0.0.1', '--port', '0', ...args], env, wrapper))
  t.after(async () => {
    try { process.kill(cli.pid, 'SIGKILL') } catch {}
    await cli.exited
  })
  return cli
}

/** Resolves with the port from a receiver's 'listening' log line. */
export async function waitListening (cli: CliProcess, timeoutMs = 20_000): Promise<CliReceiver> {
  const listening = await new Promise<{ port: number, pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      cli.child.kill('SIGKILL')
      reject(new Error(`receiver did not listen within ${timeoutMs} ms; stderr: ${cli.stderr()}`))
    }, timeoutMs)
    const onData = (): void => {
      for (const l of cli.stdout().split('\n')) {
        if (!l.startsWith('{')) continue
        const entry = JSON.parse(l) as { msg?: string, port?: number, pid?: number }
        if (typeof entry.port === 'number' && entry.msg?.startsWith('listening') === true) {
          clearTimeout(timer)
          cli.child.stdout!.off('data', onData)
          resolve({ port: entry.port, pid: entry.pid ?? cli.child.pid! })
          return
        }
      }
    }
    cli.child.stdout!.on('data', onData)
    cli.exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`receiver exited (${code ?? signal}) before listening; stderr: ${cli.stderr()}`))
    }, reject)
  })
  return { ...cli, ...listening }
}

/** SIGKILL if still running, and wait for the exit. */
export async function killHard (cli: CliProcess): Promise<void> {
  if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL')
  await cli.exited
}
