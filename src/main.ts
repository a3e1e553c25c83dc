/** The CLI entry point: parse, run, and turn errors into one line and an exit code. */
import { type Command, CommanderError } from 'commander'
import { createProgram } from './cli.js'
import { CallbackSpoolError } from './errors.js'

/**
 * Subcommands copy the exit override only when they are created, and createProgram() made them
 * before this point: without this a usage error in `receive` would call process.exit(1) itself.
 */
function exitOverrideAll (command: Command): void {
  command.exitOverride()
  for (const sub of command.commands) exitOverrideAll(sub)
}

const program = createProgram()
exitOverrideAll(program)
const verbose = process.argv.includes('--verbose')

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are successes; any other usage mistake is EX_USAGE (64). Commander has
    // already printed its message.
    process.exitCode = err.exitCode === 0 ? 0 : 64
  } else if (err instanceof CallbackSpoolError) {
    process.stderr.write(`callback-spool: ${err.message}\n`)
    if (verbose && err.stack !== undefined) process.stderr.write(`${err.stack}\n`)
    process.exitCode = err.exitCode
  } else {
    const e = err as NodeJS.ErrnoException
    process.stderr.write(`callback-spool: unexpected error: ${e.message ?? String(err)}${verbose ? '' : ' (run with --verbose for details)'}\n`)
    if (verbose && e.stack !== undefined) process.stderr.write(`${e.stack}\n`)
    process.exitCode = 1
  }
}
