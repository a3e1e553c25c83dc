/** The CLI entry point: parse, run, and turn errors into one line and an exit code. */
import { type Command, CommanderError } from 'commander'
import { createProgram } from './cli.js'
import { CallbackSpoolError } from './errors.js'
import { maskUrlCredentials } from './mask.js'

const program = createProgram()
// On every command, not just the root: exitOverride() is not inherited by subcommands that exist
// already, and without it a subcommand's usage error would exit 1 instead of 64.
const overrideExits = (command: Command): void => {
  command.exitOverride()
  command.commands.forEach(overrideExits)
}
overrideExits(program)
const verbose = process.argv.includes('--verbose') || process.env.CALLBACK_SPOOL_VERBOSE !== undefined
// A message may quote an option's value: an --on URL's credentials are not printed.
const printError = (text: string): void => { process.stderr.write(`${maskUrlCredentials(text)}\n`) }

try {
  await program.parseAsync(process.argv)
} catch (err) {
  if (err instanceof CommanderError) {
    // Help and version are successes; any other usage mistake is EX_USAGE (64). Commander has
    // already printed its message.
    process.exitCode = err.exitCode === 0 ? 0 : 64
  } else if (err instanceof CallbackSpoolError) {
    printError(`callback-spool: ${err.message}`)
    if (verbose && err.stack !== undefined) printError(err.stack)
    process.exitCode = err.exitCode
  } else {
    const e = err as NodeJS.ErrnoException
    printError(`callback-spool: unexpected error: ${e.message ?? String(err)}${verbose ? '' : ' (run with --verbose for details)'}`)
    if (verbose && e.stack !== undefined) printError(e.stack)
    process.exitCode = 1
  }
}
