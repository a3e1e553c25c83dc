/**
 * The `process` subcommand's options (each also from CALLBACK_SPOOL_<NAME>; flags win), turned
 * into ProcessCommandOptions and handed to runProcessCommand. Kept here so src/cli.ts only
 * registers it.
 */
import type { Command } from 'commander'
import type { Logger } from 'pino'
import { checkAll, dataDirOption, envOption, setOptionsValidator } from '../config.js'
import { ConfigError } from '../errors.js'
import { createLogger } from '../logger.js'
import { formatDuration, HOUR_MS, parseDuration, parsePositiveInt } from '../units.js'
import { parseRoute } from './dispatch.js'
import { parseConsumerUrl } from '../nats/consumer-url.js'
import { FOLLOW_DEFAULTS, NATS_DEFAULTS, PROCESS_DEFAULTS } from './defaults.js'
import { parsePathBindings } from '../providers/bindings.js'
import { PROFILES } from '../providers/index.js'
import { parseKeywordList } from '../providers/keywords.js'
import { parseProviderZones } from '../providers/times.js'
import { targetsHelp, targetUsages } from './targets.js'
import { ORDER_KEYS, type OrderKey } from './window.js'
import type { OnSignal, ProcessCommandOptions } from './run.js'

function parseOrderKey (value: string): OrderKey {
  if ((ORDER_KEYS as readonly string[]).includes(value)) return value as OrderKey
  throw new ConfigError(`Expected \`--order-key\` to be one of ${ORDER_KEYS.join(', ')}, got \`${value}\``)
}

/** Repeatable --on; from the environment, one route per line. */
function collectRoutes (value: string, previous: string[] | undefined): string[] {
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
    .action(async (opts: Record<string, unknown>) => {
      const logger = context.logger ?? createLogger(program.opts().logLevel as string | undefined)
      // The processor's implementation is loaded only by the command that runs it.
      const { runProcessCommand } = await import('./run.js')
      process.exitCode = await runProcessCommand(processOptionsFrom(opts), logger, context.onSignal)
    })
  // `callback-spool config` checks these options with the same code as the action.
  setOptionsValidator(command, processOptionsFrom)
  return command
}

/** `--provider-tz`, repeatable: ZONE (Octopush's) and PROVIDER=ZONE items. */
function providerTimeZones (value: unknown): { providerTz: () => string, providerZones: () => Record<string, string> | undefined } {
  const list = value === undefined ? [] : Array.isArray(value) ? value.map(String) : collectRoutes(String(value), undefined)
  const zones = (): ReturnType<typeof parseProviderZones> => parseProviderZones(list, PROFILES, PROCESS_DEFAULTS.providerTz)
  return {
    providerTz: () => zones().default,
    providerZones: () => {
      let byProvider: Record<string, string>
      // A mistake is said once, by providerTz.
      try { byProvider = { ...zones().byProvider } } catch { return undefined }
      return Object.keys(byProvider).length === 0 ? undefined : { ...byProvider }
    },
  }
}

/** Checks and converts the raw options (flags, env or config file): every mistake in one message. */
export function processOptionsFrom (opts: Record<string, unknown>): ProcessCommandOptions {
  const str = (name: string): string => String(opts[name])
  const on = opts.on === undefined ? [] : Array.isArray(opts.on) ? opts.on.map(String) : collectRoutes(String(opts.on), undefined)
  return checkAll<ProcessCommandOptions>({
    dataDir: () => str('dataDir'),
    routes: () => on.map(parseRoute),
    ...providerTimeZones(opts.providerTz),
    dedupeWindowMs: () => opts.dedupeWindow === undefined ? PROCESS_DEFAULTS.dedupeWindowMs : parseDuration('--dedupe-window', str('dedupeWindow'), { zero: 'off', max: 30 * 24 * HOUR_MS }),
    maxAttempts: () => parsePositiveInt('--max-attempts', str('maxAttempts'), { max: 1000 }),
    deadAfterMs: () => opts.deadAfter === undefined ? PROCESS_DEFAULTS.deadAfterMs : parseDuration('--dead-after', str('deadAfter'), { max: 30 * 24 * HOUR_MS }),
    tries: () => parsePositiveInt('--tries', str('tries'), { max: 10 }),
    retryDelayMs: () => parseDuration('--retry-delay', str('retryDelay'), { zero: 'no back-off', max: 60_000 }),
    handlerTimeoutMs: () => parseDuration('--handler-timeout', str('handlerTimeout'), { max: HOUR_MS }),
    concurrency: () => opts.concurrency === undefined ? PROCESS_DEFAULTS.concurrency : parsePositiveInt('--concurrency', str('concurrency'), { max: 10_000 }),
    orderKey: () => opts.orderKey === undefined ? PROCESS_DEFAULTS.orderKey : parseOrderKey(str('orderKey')),
    batchSize: () => parsePositiveInt('--batch-size', str('batchSize'), { max: 1_000_000 }),
    checkpointIntervalMs: () => PROCESS_DEFAULTS.checkpointIntervalMs,
    watchIntervalMs: () => PROCESS_DEFAULTS.watchIntervalMs,
    retainMs: () => parseDuration('--retain', str('retain'), { zero: 'keep for ever' }),
    streamMaxAgeMs: () => opts.streamMaxAge === undefined ? undefined : parseDuration('--stream-max-age', str('streamMaxAge')),
    streamReplicas: () => opts.streamReplicas === undefined ? undefined : parsePositiveInt('--stream-replicas', str('streamReplicas'), { max: 5 }),
    metricsFile: () => opts.metricsFile === undefined ? undefined : str('metricsFile'),
    progress: () => true,
    optoutKeywords: () => opts.optoutKeywords === undefined ? undefined : parseKeywordList(str('optoutKeywords')),
    optinKeywords: () => opts.optinKeywords === undefined ? undefined : parseKeywordList(str('optinKeywords')),
    providerPaths: () => parsePathBindings(opts.providerPath, PROFILES),
    schedule: () => opts.schedule === undefined ? undefined : str('schedule'),
    follow: () => opts.follow === true || opts.follow === 'true' || opts.follow === '1',
    pollIntervalMs: () => parseDuration('--poll-interval', str('pollInterval'), { max: HOUR_MS }),
    retryPauseMs: () => parseDuration('--retry-pause', str('retryPause'), { max: HOUR_MS }),
    source: () => {
      if (opts.source === undefined) return undefined
      parseConsumerUrl(str('source'))
      return str('source')
    },
    ackWaitMs: () => opts.ackWait === undefined ? NATS_DEFAULTS.ackWaitMs : parseDuration('--ack-wait', str('ackWait'), { max: HOUR_MS }),
  })
}
