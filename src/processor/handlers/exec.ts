/**
 * `exec:COMMAND`: runs the command by `/bin/sh -c` once per record, the normalised record as JSON
 * on stdin, `CALLBACK_KIND` and `CALLBACK_ID` in its environment. Exit 0: done; exit 65
 * (EX_DATAERR): dead-letter; any other exit, a signal or the timeout: retry.
 */
import { spawn } from 'node:child_process'
import type { Handler, HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'

export const EX_DATAERR = 65
const STDERR_KEEP = 2048

export class ExecHandler implements Handler {
  readonly target: string
  readonly command: string
  private readonly timeoutMs: number

  constructor (target: string, command: string, timeoutMs: number) {
    this.target = target
    this.command = command
    this.timeoutMs = timeoutMs
  }

  handle (record: NormalisedCallback): Promise<HandlerOutcome> {
    return new Promise<HandlerOutcome>((resolve) => {
      const child = spawn('/bin/sh', ['-c', this.command], {
        env: { ...process.env, CALLBACK_KIND: record.kind, CALLBACK_ID: record.id },
        // stdout is ours (pino logs): the command's output is read and dropped.
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group: a timeout kills the command and all it started (a `sleep`
        // holding the pipes open), and a Ctrl-C on our terminal does not cut the record in hand.
        detached: true,
      })
      let stderr = ''
      let timedOut = false
      let settled = false
      const finish = (outcome: HandlerOutcome): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(outcome)
      }
      const timer = setTimeout(() => {
        timedOut = true
        try {
          process.kill(-child.pid!, 'SIGKILL')
        } catch {
          child.kill('SIGKILL')
        }
      }, this.timeoutMs)
      child.stdout.resume()
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-STDERR_KEEP) })
      child.on('error', (err) => finish({ outcome: 'retry', error: `cannot run the command: ${err.message}` }))
      child.on('close', (code, signal) => {
        const said = stderr.trim() === '' ? '' : `: ${stderr.trim()}`
        if (timedOut) finish({ outcome: 'retry', error: `timed out after ${this.timeoutMs} ms` })
        else if (code === 0) finish({ outcome: 'done' })
        else if (code === EX_DATAERR) finish({ outcome: 'dead', error: `exit ${code} (EX_DATAERR)${said}` })
        else if (signal !== null) finish({ outcome: 'retry', error: `killed by ${signal}${said}` })
        else finish({ outcome: 'retry', error: `exit ${code ?? '?'}${said}` })
      })
      // A command that does not read its stdin must not fail the record by EPIPE.
      child.stdin.on('error', () => {})
      child.stdin.end(JSON.stringify(record))
    })
  }
}
