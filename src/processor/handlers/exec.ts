/**
 * `exec:COMMAND`: runs the command by `/bin/sh` once per record, the normalised record as JSON
 * and a newline on stdin, `CALLBACK_KIND` and `CALLBACK_ID` in its environment (less our
 * secrets). Exit 0: done; exit 65 (EX_DATAERR): dead-letter; any other exit, a signal or the
 * timeout: retry. The call ends when the command exits, whatever its children still hold open.
 *
 * The command runs in a subshell of a long-lived shell (exec-shell.ts), or from that shell itself
 * when it is one plain program, one record at a time per shell, as many shells as records in
 * flight: forking node itself for each record costs more than the command (cat) does.
 */
import { constants } from 'node:os'
import { isSecretEnvName } from '../../config.js'
import type { Handler, HandlerOutcome } from '../handler.js'
import type { NormalisedCallback } from '../normalise.js'
import { ExecShell, isPlainProgram } from './exec-shell.js'

export const EX_DATAERR = 65
const STDERR_KEEP = 2048

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
  private readonly plain: boolean
  /** Shells between records, ready for the next one. */
  private readonly idle: ExecShell[] = []

  constructor (target: string, command: string, timeoutMs: number) {
    this.target = target
    this.command = command
    this.timeoutMs = timeoutMs
    this.env = handlerEnvironment()
    this.plain = isPlainProgram(command, this.env)
  }

  async handle (record: NormalisedCallback): Promise<HandlerOutcome> {
    const shell = this.takeShell()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), this.timeoutMs) })
    const run = shell.run(JSON.stringify(record), { CALLBACK_KIND: record.kind, CALLBACK_ID: record.id })
    const result = await Promise.race([run, timedOut])
    clearTimeout(timer)
    if (result === undefined) {
      // The shell's process group: the command and everything it started there.
      shell.kill()
      return { outcome: 'retry', error: `timed out after ${this.timeoutMs} ms` }
    }
    if ('failed' in result) {
      // Gone or going: its pipes, which a child it left may hold, are let go of.
      shell.close().catch(() => {})
      return { outcome: 'retry', error: `${result.failed}${said(result.stderr)}` }
    }
    this.idle.push(shell)
    return outcomeOf(result.status, result.stderr)
  }

  /** Ends the idle shells and waits for them. */
  async close (): Promise<void> {
    await Promise.all(this.idle.splice(0).map(async (shell) => await shell.close()))
  }

  /** An idle shell still alive (one killed meanwhile is dropped), else a new one. */
  private takeShell (): ExecShell {
    for (let shell = this.idle.pop(); shell !== undefined; shell = this.idle.pop()) {
      if (shell.usable) return shell
      shell.close().catch(() => {})
    }
    return new ExecShell(this.command, this.env, { plain: this.plain, stderrKeep: STDERR_KEEP })
  }
}

const said = (stderr: string): string => stderr.trim() === '' ? '' : `: ${stderr.trim()}`

/** The shell's `$?`: above 128, the command was killed by signal (status - 128). */
function outcomeOf (status: number, stderr: string): HandlerOutcome {
  if (status === 0) return { outcome: 'done' }
  if (status === EX_DATAERR) return { outcome: 'dead', error: `exit ${status} (EX_DATAERR)${said(stderr)}` }
  const signal = status > 128 ? signalName(status - 128) : undefined
  return { outcome: 'retry', error: `exit ${status}${signal === undefined ? '' : ` (killed by ${signal})`}${said(stderr)}` }
}

function signalName (n: number): string | undefined {
  return Object.entries(constants.signals).find(([, value]) => value === n)?.[0]
}
