/**
 * The operator's commands as the command line shows them: their options, help and examples. Each
 * action loads its implementation (status.ts, cat.ts, ...) only when it runs, so that a command
 * loads its own modules and no other's.
 */
import { Option, type Command } from 'commander'
import { dataDirOption, flagOnlyOption } from '../config.js'
import { FOLLOW_DEFAULTS } from '../processor/defaults.js'
import { DEFAULT_MIN_FREE_BYTES } from '../receiver/defaults.js'
import { formatDuration, formatSize } from '../units.js'
import type { ToolIO } from './common.js'
import { DEFAULT_MAX_LAG_MS } from './health.js'

/** Makes the tools' input and output when a command runs (tests pass their own). */
export type MakeIO = () => Promise<ToolIO>

/** An option only its flag sets (see flagOnlyOption). */
export function flag (flags: string, description: string): Option {
  return flagOnlyOption(new Option(flags, description))
}

export function addStatusCommand (program: Command, makeIO: MakeIO): Command {
  return program.command('status')
    .description('the state of a data dir: segments, receiver and processor, checkpoint, backlog, dead letters, last pass, free disk')
    .addOption(dataDirOption())
    .addOption(flag('--json', 'print one JSON object, for scripts'))
    .addOption(flag('--check', 'print one line (healthy, degraded or down, and why) and exit 0, 1 or 2, for monitoring'))
    .addOption(flag('--min-free <size>', 'the receiver\'s --min-free: down under it, degraded under twice it').default(formatSize(DEFAULT_MIN_FREE_BYTES)))
    .addOption(flag('--max-lag <duration>', 'degraded when the oldest record not processed is older than this').default(formatDuration(DEFAULT_MAX_LAG_MS)))
    .addOption(flag('--source <url>', 'instead of a data dir: the figures of a JetStream stream and its consumer (nats://HOST:PORT?stream=CALLBACKS&consumer=callback-spool)'))
    .addHelpText('after', `
Exit codes: 0 printed (whatever the state); 66 no such data directory; 69 the --source server does not answer; 64 usage.
With --check: 0 healthy, 1 degraded, 2 down (see "When something is wrong" in the README).

Examples:
  callback-spool status --data-dir /var/lib/callback-spool
  callback-spool status --json | jq .backlog.records
  callback-spool status --source 'nats://127.0.0.1:4222?stream=CALLBACKS&consumer=callback-spool'
`)
    .action(async (opts: { dataDir: string, json?: boolean, check?: boolean, minFree: string, maxLag: string, source?: string }) => {
      const [{ statusCommand }, io] = await Promise.all([import('./status.js'), makeIO()])
      await statusCommand(opts, io)
    })
}

export function addTraceCommand (program: Command, makeIO: MakeIO): Command {
  return program.command('trace')
    .description('where the callbacks of a number, a message id or a record id went: handed over, pending, failing, dead-lettered, quarantined or deleted')
    .argument('<query>', 'a phone number (+33..., 0033..., or 06... with --country), a message id, or a record id')
    .addOption(dataDirOption())
    .addOption(flag('--country <code>', 'the country of a national number like 0612345678: a calling code (33) or FR, BE, ...'))
    .addOption(flag('--json', 'print one JSON object, for scripts'))
    .addHelpText('after', `
Exit codes: 0 printed (found or not); 64 usage; 66 no such data directory.

Examples:
  callback-spool trace +33612345678
  callback-spool trace 0612345678 --country FR
  callback-spool trace 019abcde-0123-7456-89ab-0123456789ab --json | jq -r '.records[].state'
`)
    .action(async (query: string, opts: { dataDir: string, country?: string, json?: boolean }) => {
      const [{ traceCommand }, io] = await Promise.all([import('./trace.js'), makeIO()])
      await traceCommand(query, opts, io)
    })
}

export function addCatCommand (program: Command, makeIO: MakeIO): Command {
  return program.command('cat')
    .description('print the spooled records in write order: NDJSON as spooled, or --pretty; filters; --follow like tail -F')
    .addOption(dataDirOption())
    .addOption(flag('--pretty', 'one line per record: time, kind, number, status or text, message id (colours on a terminal unless NO_COLOR is set)'))
    .addOption(flag('--kind <kinds>', 'only these kinds: delivery, reply, optout, optin, unknown (comma-separated)'))
    .addOption(flag('--provider <names>', "only these providers' records (octopush, twilio, vonage, ...; none: recognised by no profile); comma-separated"))
    .addOption(flag('--count', 'print how many records match, by provider and kind (a batched request counts each event), instead of the records'))
    .addOption(flag('--since <time>', 'only records received at or after this time: ISO 8601, or a duration ago (2h, 7d)'))
    .addOption(flag('--until <time>', 'only records received before this time: ISO 8601, or a duration ago'))
    .addOption(flag('--grep <regexp>', 'only records with a field matching this regular expression, tested on each field as name=value'))
    .addOption(flag('-i, --ignore-case', '--grep ignores case'))
    .addOption(flag('--message-id <id>', 'only records of this message_id'))
    .addOption(flag('--number <number>', 'only records of this phone number, in any spelling (+33600112233, 0033600112233, 33600112233)'))
    .addOption(flag('--country <code>', 'the country calling code (33) of national forms (0600112233), in --number and in the records'))
    .addOption(flag('-f, --follow', 'keep printing new records, across rotations, until Ctrl-C or SIGTERM'))
    .addOption(flag('--poll-interval <duration>', '--follow: also look for new records this often').default(formatDuration(FOLLOW_DEFAULTS.pollIntervalMs)))
    .addHelpText('after', `
Invalid lines are skipped (their count goes to stderr); \`callback-spool verify\` lists them.

Examples:
  callback-spool cat --pretty --since 2h
  callback-spool cat --message-id sms_5fa275dbf21dc | jq .fields
  callback-spool cat --number +33600000000 --kind optout,reply --pretty    # "my STOP was ignored"
  callback-spool cat --number '06 00 00 00 00' --country 33 --pretty
  callback-spool cat --grep 'status=NOT_DELIVERED' --pretty
  callback-spool cat --follow --pretty
`)
    .action(async (opts: Record<string, unknown>) => {
      const [{ catCommand }, io] = await Promise.all([import('./cat.js'), makeIO()])
      await catCommand(opts, io)
    })
}

export function addVerifyCommand (program: Command, makeIO: MakeIO): Command {
  return program.command('verify')
    .description('check every segment and the checkpoint; report each torn or invalid line (segment, line number, byte offset)')
    .addOption(dataDirOption())
    .addOption(flag('--json', 'print the report as JSON'))
    .addHelpText('after', `
Exit codes: 0 all sound; 1 a torn or invalid line, or a bad checkpoint (each one listed); 64 usage.
An unterminated last line of the newest segment while the receiver runs is a write in progress:
listed as a note, not a problem.

Example:
  callback-spool verify --data-dir /var/lib/callback-spool
`)
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      const [{ verifyCommand }, io] = await Promise.all([import('./verify.js'), makeIO()])
      await verifyCommand(opts, io)
    })
}

export function addReplayCommand (program: Command, makeIO: MakeIO): Command {
  return program.command('replay')
    .description('move the checkpoint back so the next pass dispatches those records again (handlers are idempotent by id)')
    .addOption(dataDirOption())
    .addOption(flag('--since <time>', 'from the first record received at or after this time: ISO 8601, or a duration ago (2h, 7d)'))
    .addOption(flag('--from <segment:offset>', 'from this line start (a segment file name and a byte offset, as `verify` and the logs print them)'))
    .addOption(flag('--all', 'from the first record of the oldest segment'))
    .addOption(flag('-y, --yes', 'do not ask (required when stdin is not a terminal)'))
    .addHelpText('after', `
The checkpoint only moves back: a target at or after it changes nothing. It also repairs a bad
checkpoint (\`process\` exit 78). Refused while a processor runs (stop it first).

Exit codes: 0 done (or nothing to replay); 1 cancelled at the prompt; 64 usage, or no --yes and
stdin not a terminal; 75 a processor is running; 78 --from is not a line start of the spool.

Examples:
  callback-spool replay --since 2h
  callback-spool replay --from 000000000042-20261127T115217123Z.ndjson:1234 --yes
  callback-spool replay --all --yes --data-dir /var/lib/callback-spool
`)
    .action(async (opts: Record<string, unknown>) => {
      const [{ replayCommand }, io] = await Promise.all([import('./replay.js'), makeIO()])
      await replayCommand(opts, io)
    })
}

export function addDeadCommand (program: Command, makeIO: MakeIO): Command {
  const dead = program.command('dead')
    .description('list, retry or purge the dead letters (records the handlers refused, and invalid spool lines)')
    .addHelpText('after', `
Examples:
  callback-spool dead list
  callback-spool dead retry --id 019abcde-...   # or every dead letter: callback-spool dead retry
  callback-spool dead purge --before 30d --yes
`)
  dead.command('list')
    .description('one line per dead letter: failed_at, kind, number (masked), id, target, error, attempts')
    .addOption(dataDirOption())
    .addOption(flag('--json', 'one JSON object per line: the dead letter as stored, plus its file'))
    .addHelpText('after', '\nExample:\n  callback-spool dead list --json | jq -r \'select(.kind == "optout") | .record.id\'\n')
    .action(async (opts: { dataDir: string, json?: boolean }) => {
      const [{ deadListCommand }, io] = await Promise.all([import('./dead.js'), makeIO()])
      await deadListCommand(opts, io)
    })
  dead.command('retry')
    .description('move the dead letters\' records (all, or --id) to requeue/: the next pass dispatches them again')
    .addOption(dataDirOption())
    .addOption(flag('--id <id>', 'only the dead letter of this record id'))
    .addHelpText('after', `
Dead letters of invalid spool lines hold no record: they are skipped (and kept) with a message.
While a processor runs, a request is left in requeue/: it re-queues them at its next pass.

Example:
  callback-spool dead retry --id 019abcde-0123-7456-89ab-0123456789ab && callback-spool process
`)
    .action(async (opts: { dataDir: string, id?: string }) => {
      const [{ deadRetryCommand }, io] = await Promise.all([import('./dead.js'), makeIO()])
      await deadRetryCommand(opts, io)
    })
  dead.command('purge')
    .description('remove the dead letters that failed before a time')
    .addOption(dataDirOption())
    .addOption(flag('--before <time>', 'ISO 8601, or a duration ago (30d)').makeOptionMandatory())
    .addOption(flag('-y, --yes', 'do not ask (required when stdin is not a terminal)'))
    .addHelpText('after', '\nIt cannot be undone: it asks on a terminal, and needs --yes otherwise (exit 64 without).\n\nExample:\n  callback-spool dead purge --before 30d --yes\n')
    .action(async (opts: { dataDir: string, before: string, yes?: boolean }) => {
      const [{ deadPurgeCommand }, io] = await Promise.all([import('./dead.js'), makeIO()])
      await deadPurgeCommand(opts, io)
    })
  return dead
}

export function addPurgeCommand (program: Command, makeIO: MakeIO): Command {
  return program.command('purge')
    .description('erase every record of one phone number from the spool, re-queue, dead letters and outputs')
    // Flag-only: an erasure is never set by a config file or a stray environment variable.
    .addOption(flag('--number <number>', 'the number, e.g. +33600112233 or 0033600112233').makeOptionMandatory())
    .addOption(dataDirOption())
    .addOption(flag('--dry-run', 'count what would be removed, change nothing'))
    .addOption(flag('-y, --yes', 'do not ask (required when stdin is not a terminal)'))
    .addHelpText('after', `
It cannot be undone: it asks on a terminal (after counting), and needs --yes otherwise (exit 64 without).

Examples:
  callback-spool purge --number +33600112233 --dry-run --data-dir /var/lib/callback-spool
  callback-spool purge --number +33600112233 --yes --data-dir /var/lib/callback-spool
`)
    .action(async (opts: { number: string, dataDir: string, dryRun?: boolean, yes?: boolean }) => {
      const [{ purgeCommand }, io] = await Promise.all([import('./purge.js'), makeIO()])
      await purgeCommand(opts, io)
    })
}

export function addDbCommand (program: Command, makeIO: MakeIO): Command {
  const db = program.command('db').description('the PostgreSQL and MariaDB/MySQL targets\' tables')
  db.command('schema')
    .description('print the SQL that creates the tables of a postgres:// or mysql:// target (they are also created when missing)')
    .argument('<url>', 'the target, as given to `process --on` (?prefix= applies; nothing is connected)')
    .addHelpText('after', `
Examples:
  callback-spool db schema postgres://app@db.example.com/app | psql -h db.example.com -U admin app
  callback-spool db schema 'mysql://app@127.0.0.1/app?prefix=sms_' > callback-tables.sql
`)
    .action(async (url: string) => {
      const [{ dbSchemaCommand }, io] = await Promise.all([import('./db-schema.js'), makeIO()])
      await dbSchemaCommand(url, io)
    })
  return db
}
