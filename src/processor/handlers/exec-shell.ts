/**
 * A long-lived `/bin/sh` that runs the exec target's command for one record at a time, each in a
 * subshell of its own: the shell forks a few hundred KiB where spawning from node forks the whole
 * processor, and no new shell is exec'd per record. A command that is one program with plain
 * words and redirections (`cat > /dev/null`) runs from the shell itself, without the subshell:
 * the shell vforks it, and a program cannot change the shell's state. Ours is the script on the
 * shell's stdin; the command gets the record from a here-document, its stdout is the shell's,
 * /dev/null, its stderr the shell's, a pipe read here up to a marker that the shell prints with
 * `$?` after it: one pipe, one line, one read per record.
 */
import { spawn, spawnSync, type ChildProcessByStdio } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import type { Socket } from 'node:net'
import type { Readable, Writable } from 'node:stream'

/** How one run ended: the command's exit status, or why there is none. */
export type ShellRunResult =
  | { status: number, stderr: string }
  | { failed: string, stderr: string }

/** The here-document's end: a JSON line never equals it (it starts with `{` or `[` or `"`). */
const END_OF_RECORD = 'CALLBACK_SPOOL_END_OF_RECORD'
/** The command's text lives in this shell variable, not exported: its environment does not carry it. */
const COMMAND_VARIABLE = 'callback_spool_command'

/** `value` as one word of the shell, taken literally. */
export function shellQuote (value: string): string {
  return `'${value.replaceAll('\'', '\'\\\'\'')}'`
}

/** A word the shell takes as it is: no quoting, expansion, globbing, tilde or operator. */
const WORD = '[A-Za-z0-9_@%+,./:=-]+'
const REDIRECT = `[0-9]*(?:>>?|<)[ \\t]*${WORD}|[0-9]*>&[0-9]+`
/**
 * One program, then blank-separated words and redirections; blanks only (a newline would start
 * another command); digits right before `>` or `<` are a redirection's, not a name. Two words
 * never touch, so a failed match cannot backtrack for ever.
 */
const PLAIN_COMMAND = new RegExp(`^[ \\t]*(?![0-9]+[<>])([A-Za-z0-9_./-]+)(?:[ \\t]*(?:${REDIRECT})|[ \\t]+${WORD})*[ \\t]*$`)

/**
 * Whether `command` is one program run with plain words and redirections, so that running it from
 * the long-lived shell rather than a subshell changes nothing: its name is a path, or the shell
 * (with `env`'s PATH) finds it as a file, not a builtin, keyword or nothing.
 */
export function isPlainProgram (command: string, env: NodeJS.ProcessEnv): boolean {
  const name = PLAIN_COMMAND.exec(command)?.[1]
  if (name === undefined) return false
  if (name.includes('/')) return true
  const found = spawnSync('/bin/sh', ['-c', 'command -V "$1"', 'sh', name], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
  return found.status === 0 && found.stdout.startsWith(`${name} is /`)
}

export class ExecShell {
  private readonly child: ChildProcessByStdio<Writable, null, Readable>
  /** Ends each run's stderr; a random part no command prints by chance, and a count. */
  private readonly marker = `callback-spool-${randomBytes(8).toString('hex')}-`
  private runs = 0
  private stderr = ''
  private running: { marker: string, resolve: (result: ShellRunResult) => void } | undefined
  private ended: string | undefined
  /** Settles when the shell has exited (or could not start). */
  private readonly exited: Promise<void>
  private readonly stderrKeep: number
  /** The command is a plain program (isPlainProgram): no subshell. */
  private readonly plain: boolean

  constructor (command: string, env: NodeJS.ProcessEnv, options: { plain: boolean, stderrKeep: number }) {
    this.stderrKeep = options.stderrKeep
    this.plain = options.plain
    this.child = spawn('/bin/sh', [], {
      env,
      // Its stdout is the command's: /dev/null, opened once, not once per record.
      stdio: ['pipe', 'ignore', 'pipe'],
      // Its own process group (and session): a timeout kills the shell, the command and all it
      // started, and a Ctrl-C on our terminal does not cut the record in hand.
      detached: true,
    })
    this.child.stderr.setEncoding('utf8').on('data', (chunk: string) => { this.stderr += chunk; this.check() })
    this.exited = new Promise<void>((resolve) => {
      this.child.on('error', (err) => { this.end(`cannot run the command: ${err.message}`); resolve() })
      this.child.on('exit', (code, signal) => { this.end(`the shell running the command ended (${signal ?? `exit ${code ?? '?'}`})`); resolve() })
    })
    // A shell that died: its end of the pipe is closed, which the exit above reports.
    this.child.stdin.on('error', () => {})
    this.child.stderr.on('error', () => {})
    this.child.stdin.write(`${COMMAND_VARIABLE}=${shellQuote(command)}\n`)
    this.idle()
  }

  /** The shell's process id (its process group's too). */
  get pid (): number | undefined {
    return this.child.pid
  }

  /** False once the shell has ended or was killed: it takes no more records. */
  get usable (): boolean {
    return this.ended === undefined
  }

  /** Runs the command once with `input` on its stdin and `env` added to its environment. */
  run (input: string, env: Record<string, string>): Promise<ShellRunResult> {
    if (this.ended !== undefined) return Promise.resolve({ failed: this.ended, stderr: '' })
    const marker = `${this.marker}${++this.runs}`
    const exports = Object.entries(env).map(([name, value]) => `${name}=${shellQuote(value)}`).join(' ')
    const run = this.plain
      ? `export ${exports}; eval "$${COMMAND_VARIABLE}"`
      : `(export ${exports}; eval "$${COMMAND_VARIABLE}")`
    // The marker is hex digits, dashes and a count: a printf format that prints itself.
    const script = `${run} <<'${END_OF_RECORD}'\n` +
      `${input}\n${END_OF_RECORD}\n` +
      `printf '${marker} %s\\n' "$?" >&2\n`
    this.busy()
    return new Promise<ShellRunResult>((resolve) => {
      this.running = { marker, resolve }
      this.child.stdin.write(script)
    })
  }

  /** SIGKILL to the shell's process group: the shell, the command and everything it started there. */
  kill (): void {
    this.end('killed')
    try {
      if (this.child.pid !== undefined) process.kill(-this.child.pid, 'SIGKILL')
    } catch {
      this.child.kill('SIGKILL')
    }
    this.close().catch(() => {})
  }

  /**
   * Ends the shell (the end of its script, when it is idle) and lets go of its pipes; resolves
   * once it has exited. Waited for, so that the shell and the commands it ran are reaped by the
   * processor, and counted in its children's CPU time (`time`, the benchmark).
   */
  async close (): Promise<void> {
    this.end('closed')
    this.child.stdin.end()
    // A child the command left behind may hold the stderr pipe open: not waited for.
    this.child.stderr.destroy()
    this.child.ref()
    await this.exited
  }

  private check (): void {
    const running = this.running
    if (running === undefined) {
      // Output of a child a command left behind, between records: not any record's.
      this.stderr = ''
      return
    }
    // `<marker> <status>\n`, after whatever the command wrote to its stderr.
    const at = this.stderr.indexOf(`${running.marker} `)
    if (at === -1) {
      this.stderr = this.stderr.slice(-(this.stderrKeep + running.marker.length + 1))
      return
    }
    const newline = this.stderr.indexOf('\n', at)
    if (newline === -1) return
    const status = Number(this.stderr.slice(at + running.marker.length + 1, newline))
    const stderr = this.stderr.slice(0, at).slice(-this.stderrKeep)
    this.stderr = this.stderr.slice(newline + 1)
    this.running = undefined
    this.idle()
    running.resolve({ status, stderr })
  }

  private end (why: string): void {
    if (this.ended !== undefined) return
    this.ended = why
    const running = this.running
    this.running = undefined
    running?.resolve({ failed: why, stderr: this.stderr.slice(-this.stderrKeep) })
  }

  /** A shell between records does not keep the processor's event loop alive. */
  private idle (): void {
    this.child.unref()
    for (const pipe of this.pipes()) pipe.unref()
  }

  private busy (): void {
    this.child.ref()
    for (const pipe of this.pipes()) pipe.ref()
  }

  /** The stdio pipes of a child process are sockets. */
  private pipes (): Socket[] {
    return [this.child.stdin, this.child.stderr] as unknown[] as Socket[]
  }
}
