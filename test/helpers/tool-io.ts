/** A ToolIO for in-process tests: output collected, stdin a terminal or not, answers scripted. */
import { type Command } from 'commander'
import { createProgram } from '../../src/cli.js'
import type { ToolIO } from '../../src/tools/common.js'
import { silentLogger } from './logger.js'

export interface CapturedIO extends ToolIO {
  out: () => string
  warnings: string[]
  questions: string[]
  /** Stops a `cat --follow` as SIGTERM would. */
  signal: () => void
}

export function captureIO (options: { stdinIsTTY?: boolean, stdoutIsTTY?: boolean, answer?: boolean } = {}): CapturedIO {
  let out = ''
  const questions: string[] = []
  const warnings: string[] = []
  let handler: ((signal: NodeJS.Signals) => void) | undefined
  return {
    write: (text) => { out += text },
    warn: (line) => { warnings.push(line) },
    stdoutIsTTY: options.stdoutIsTTY ?? false,
    stdinIsTTY: options.stdinIsTTY ?? false,
    confirm: async (q) => { questions.push(q); return options.answer ?? false },
    closed: () => false,
    onSignal: (h) => { handler = h },
    out: () => out,
    warnings,
    questions,
    signal: () => handler?.('SIGTERM'),
  }
}

/** createProgram() with exits overridden on every command and the tools printing into `io`. */
export function toolProgram (io: ToolIO): { program: Command, usage: () => string } {
  let usage = ''
  const program = createProgram({ logger: silentLogger(), onSignal: () => {}, toolIO: io })
  const configure = (cmd: Command): void => {
    cmd.exitOverride().configureOutput({ writeOut: (s) => { usage += s }, writeErr: (s) => { usage += s } })
    for (const sub of cmd.commands) configure(sub)
  }
  configure(program)
  return { program, usage: () => usage }
}

/** Runs one command line in process; returns the exit code it set (0 when none) and its output. */
export async function runTool (argv: string[], io: CapturedIO = captureIO()): Promise<{ code: number, out: string }> {
  const { program } = toolProgram(io)
  process.exitCode = undefined
  try {
    await program.parseAsync(argv, { from: 'user' })
    return { code: Number(process.exitCode ?? 0), out: io.out() }
  } finally {
    process.exitCode = undefined
  }
}
