/**
 * `exec:COMMAND`: runs the command by `/bin/sh -c` once per record, the normalised record as JSON
 * and a newline on stdin, `CALLBACK_KIND` and `CALLBACK_ID` in its environment (less our
 * secrets). Exit 0: done; exit 65 (EX_DATAERR): dead-letter; any other exit, a signal or the
 * timeout: retry. The call ends when the command exits, whatever its children still hold open.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { isSecretEnvName } from '../../config.js'
import type { Handler, HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

export const EX_DATAERR = 65
const STDERR_KEEP = 2048
/**
 * After the command exits, how long its stderr may take to reach us. A child it left behind
 * may hold the pipes open for ever: past this, what was read is what is reported.
 */
const STDERR_DRAIN_MS = 50

/** The processor's environment without the variables that hold our secrets (tokens, passwords). */
function handlerEnvironment (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!isSecretEnvName(name)) env[name] = value
  return env
}

export class ExecHandler implements Handler {
  readonly target: string
  readonly command: string
  private readonly timeoutMs: number
  private readonly env: NodeJS.ProcessEnv

  constructor (target: string, command: string, timeoutMs: number) {
    this.target = target
    this.command = command
    this.timeoutMs = timeoutMs
    this.env = handlerEnvironment()
  }

  handle (record: NormalisedCallback): Promise<HandlerOutcome> {
    return new Promise<HandlerOutcome>((resolve) => {
      const child = spawn('/bin/sh', ['-c', this.command], {
        env: { ...this.env, CALLBACK_KIND: record.kind, CALLBACK_ID: record.id },
        // stdout is ours (pino logs): the command's output is read and dropped.
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group: a timeout kills the command and all it started, and a Ctrl-C
        // on our terminal does not cut the record in hand.
        detached: true,
      })
      let stderr = ''
      let exit: { code: number | null, signal: NodeJS.Signals | null } | undefined
      let drain: NodeJS.Timeout | undefined
      let settled = false
      const finish = (outcome: HandlerOutcome): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        clearTimeout(drain)
        // Our ends of the pipes, which a child left behind may still hold: closed, not waited for.
        child.stdin.destroy()
        child.stdout.destroy()
        child.stderr.destroy()
        resolve(outcome)
      }
      const report = (): void => {
        if (exit !== undefined) finish(outcomeOf(exit.code, exit.signal, stderr))
      }
      const timer = setTimeout(() => {
        killGroup(child)
        finish({ outcome: 'retry', error: `timed out after ${this.timeoutMs} ms` })
      }, this.timeoutMs)
      child.stdout.resume()
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-STDERR_KEEP) })
      child.on('error', (err) => finish({ outcome: 'retry', error: `cannot run the command: ${err.message}` }))
      child.on('exit', (code, signal) => {
        exit = { code, signal }
        clearTimeout(timer)
        drain = setTimeout(report, STDERR_DRAIN_MS)
      })
      // The pipes' end, right after the exit when no child holds them: nothing more to wait for.
      child.on('close', report)
      // A command that does not read its stdin must not fail the record by EPIPE.
      child.stdin.on('error', () => {})
      child.stdout.on('error', () => {})
      child.stderr.on('error', () => {})
      child.stdin.end(JSON.stringify(record) + '\n')
    })
  }
}

function outcomeOf (code: number | null, signal: NodeJS.Signals | null, stderr: string): HandlerOutcome {
  const said = stderr.trim() === '' ? '' : `: ${stderr.trim()}`
  if (code === 0) return { outcome: 'done' }
  if (code === EX_DATAERR) return { outcome: 'dead', error: `exit ${code} (EX_DATAERR)${said}` }
  if (signal !== null) return { outcome: 'retry', error: `killed by ${signal}${said}` }
  return { outcome: 'retry', error: `exit ${code ?? '?'}${said}` }
}

/** SIGKILL to the command's process group: the shell and everything it started in the group. */
function killGroup (child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
  } catch {
    child.kill('SIGKILL')
  }
}
