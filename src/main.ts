/** The CLI entry point: parse, run, and turn errors into one line and an exit code. */
import { type Command, CommanderError } from 'commander'
import { createProgram } from './cli.js'
import { CallbackSpoolError } from './errors.js'
import { isPermissionDenied, permissionError } from './permission.js'
import { reportFatal } from './fatal.js'
import { maskUrlCredentials } from './mask.js'

const program = createProgram({ argv: process.argv })
// On every command, not just the root: exitOverride() is not inherited by subcommands that exist
// already, and without it a subcommand's usage error would exit 1 instead of 64.
const overrideExits = (command: Command): void => {
  command.exitOverride()
  command.commands.forEach(overrideExits)
}
overrideExits(program)
/** --log-level as parsed (flag, environment or config file), when parsing got that far. */
const logLevel = (): string | undefined => program.opts().logLevel as string | undefined
const verbose = process.argv.includes('--verbose') || process.env.CALLBACK_SPOOL_VERBOSE !== undefined

/** Runs the command line; every error ends as one line and an exit code, none escapes. */
async function main (): Promise<void> {
  try {
    await program.parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are successes; any other usage mistake is EX_USAGE (64). Commander has
      // already printed its message.
      process.exitCode = err.exitCode === 0 ? 0 : 64
    } else if (err instanceof CallbackSpoolError || isPermissionDenied(err)) {
      // A file this user may not read or write, wherever it was met: 77 with the path and who may.
      const known = err instanceof CallbackSpoolError ? err : permissionError(err)
      await reportFatal({ message: known.message, code: known.code, exitCode: known.exitCode }, program.args[0], logLevel())
      if (verbose && known.stack !== undefined) process.stderr.write(`${maskUrlCredentials(known.stack)}\n`)
      process.exitCode = known.exitCode
    } else {
      const e = err as NodeJS.ErrnoException
      const message = `unexpected error: ${e.message ?? String(err)}${verbose ? '' : ' (run with --verbose for details)'}`
      await reportFatal({ message, code: undefined, exitCode: 1, err }, program.args[0], logLevel())
      if (verbose && e.stack !== undefined) process.stderr.write(`${maskUrlCredentials(e.stack)}\n`)
      process.exitCode = 1
    }
  }
}

// Not a top-level await: dist/main.cjs is a CommonJS bundle (build.mjs). main() reports its own
// errors; this is for one that reporting them threw.
main().catch((err: unknown) => {
  process.stderr.write(`unexpected error: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exitCode = 1
})
