/**
 * The `process` subcommand's options (each also from CALLBACK_SPOOL_<NAME>; flags win) and help.
 * The action loads the checks (options.ts) and the processor (run.ts) only when it runs.
 */
import type { Command } from 'commander'
import type { Logger } from 'pino'
import { dataDirOption, envOption, setOptionsValidator, validatedOptions } from '../config.js'
import { formatDuration } from '../units.js'
import { FOLLOW_DEFAULTS, NATS_DEFAULTS, PROCESS_DEFAULTS } from './defaults.js'
import { targetsHelp, targetUsages } from './targets.js'
import { ORDER_KEYS } from './window.js'
import type { OnSignal, ProcessCommandOptions } from './run.js'

/** Repeatable --on; from the environment, one route per line. */
export function collectRoutes (value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), ...value.split('\n').map((v) => v.trim()).filter((v) => v !== '')]
}

export function addProcessCommand (program: Command, context: { logger?: Logger, onSignal: OnSignal }): Command {
  const command = program.command('process')
    .description('dispatch the spooled callbacks from the checkpoint to the handlers: one pass (for cron), --schedule or --follow')
    .addOption(dataDirOption())
    .addOption(envOption('--on <kind=target>', `route a kind (delivery, reply, optout, optin, unknown or *) to ${targetUsages()}; repeatable (default: every kind to <data-dir>/out/<kind>.ndjson)`)
      .argParser(collectRoutes))
    .addOption(envOption('--provider-tz <[provider=]zone>', `the time zone of a provider's dates that carry none: ZONE for Octopush (default ${PROCESS_DEFAULTS.providerTz}), PROVIDER=ZONE for another (plivo=UTC); repeatable`)
      .argParser(collectRoutes))
    .addOption(envOption('--dedupe-window <duration>', "a record whose provider's key (a re-send) was handed over within this window is counted as a duplicate and not handed over again (0: off; at most 30d)").default(formatDuration(PROCESS_DEFAULTS.dedupeWindowMs)))
    .addOption(envOption('--max-attempts <n>', 'dead-letter a record after it failed in this many passes, and for --dead-after (at most 1000)').default(String(PROCESS_DEFAULTS.maxAttempts)))
    .addOption(envOption('--dead-after <duration>', 'dead-letter a record that fails (network error, 5xx, ...) only after it has failed this long (at most 30d)').default(formatDuration(PROCESS_DEFAULTS.deadAfterMs)))
    .addOption(envOption('--tries <n>', 'tries of a record within one pass (at most 10)').default(String(PROCESS_DEFAULTS.tries)))
    .addOption(envOption('--retry-delay <duration>', 'first back-off between tries, doubled each time (0: none; at most 1m)').default(formatDuration(PROCESS_DEFAULTS.retryDelayMs)))
    .addOption(envOption('--handler-timeout <duration>', 'timeout of one handler call (above 0, at most 1h)').default(formatDuration(PROCESS_DEFAULTS.handlerTimeoutMs)))
    .addOption(envOption('--concurrency <n>', 'records handled at once (1: one after the other; at most 10000)').default(String(PROCESS_DEFAULTS.concurrency)))
    .addOption(envOption('--order-key <field>', `records with the same ${ORDER_KEYS.slice(0, -1).join(' or ')} are handled one after the other, in spool order (none: no order)`)
      .default(PROCESS_DEFAULTS.orderKey))
    .addOption(envOption('--batch-size <n>', 'records between checkpoints').default(String(PROCESS_DEFAULTS.batchSize)))
    .addOption(envOption('--retain <duration>', 'delete fully processed segments older than this after a pass (0: keep them for ever)').default(formatDuration(PROCESS_DEFAULTS.retainMs)))
    .addOption(envOption('--stream-max-age <duration>', 'nats target: a stream created when missing keeps messages this long').default(formatDuration(NATS_DEFAULTS.streamMaxAgeMs)))
    .addOption(envOption('--stream-replicas <n>', 'nats target: replicas of a stream created when missing (1, or 3 on a cluster; at most 5)').default(String(NATS_DEFAULTS.streamReplicas)))
    .addOption(envOption('--metrics-file <path>', 'write the figures of each pass there (Prometheus text format)'))
    .addOption(envOption('--schedule <cron>', 'stay running; a pass on this cron expression (seconds allowed: "*/10 * * * * *")'))
    .addOption(envOption('--follow', 'stay running; dispatch each new record as soon as it is written'))
    .addOption(envOption('--optout-keywords <words>', 'a reply whose whole text is one of these (comma-separated) is an opt-out (default: STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, ARRET, ARRÊT, STOP SMS)'))
    .addOption(envOption('--optin-keywords <words>', 'a reply whose whole text is one of these (comma-separated) is an opt-in (default: START, UNSTOP)'))
    .addOption(envOption('--provider-path <prefix=provider>', 'requests whose path starts with PREFIX are PROVIDER\'s, whatever their shape (e.g. /twilio/=twilio); repeatable')
      .argParser(collectRoutes))
    .addOption(envOption('--source <url>', 'read the records from a JetStream stream through a durable consumer shared by a pool of processors, instead of the local spool: nats://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]...][?stream=CALLBACKS&consumer=callback-spool]'))
    .addOption(envOption('--ack-wait <duration>', '--source: the ack wait of the consumer when this processor creates it (a processor gone: its messages go to the others after this)').default(formatDuration(NATS_DEFAULTS.ackWaitMs)))
    .addOption(envOption('--poll-interval <duration>', '--follow: also look for new records this often').default(formatDuration(FOLLOW_DEFAULTS.pollIntervalMs)))
    .addOption(envOption('--retry-pause <duration>', '--follow: pause after a pass that must be retried').default(formatDuration(FOLLOW_DEFAULTS.retryPauseMs)))
    .addHelpText('after', `
Targets:
${targetsHelp()}

Exit codes: 0 done (also: nothing to do, or another processor is running), 64 usage,
75 a handler keeps failing (retry later), 78 configuration error or bad checkpoint, 1 unexpected.

Examples:
  callback-spool process --data-dir /var/lib/callback-spool
  callback-spool process --on 'optout=exec:./add-to-blocklist.sh' --on '*=file:/var/log/callbacks.ndjson'
  callback-spool process --follow --on delivery=https://app.example.com/hooks/delivery
`)
    .action(async (_opts: Record<string, unknown>, self: Command) => {
      // The processor's implementation is loaded only by the command that runs it.
      const { runProcessCommand } = await import('./run.js')
      const logger = context.logger ?? (async () => (await import('../logger.js')).createLogger(program.opts().logLevel as string | undefined))
      process.exitCode = await runProcessCommand(validatedOptions<ProcessCommandOptions>(self), logger, context.onSignal)
    })
  // Checked before the action (the action takes the result), and by `callback-spool config`.
  setOptionsValidator(command, async (opts: Record<string, unknown>) => (await import('./options.js')).processOptionsFrom(opts))
  return command
}
