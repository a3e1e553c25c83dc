/**
 * The `process` command's raw options (flags, env or config file) checked and converted into
 * ProcessCommandOptions. Loaded by the command's action and by `callback-spool config`, not by
 * the definition of the command line: the checks need the routes' and the providers' code.
 */
import { checkAll } from '../config.js'
import { ConfigError } from '../errors.js'
import { HOUR_MS, parseDuration, parsePositiveInt } from '../units.js'
import { parseRoute } from './dispatch.js'
import { parseConsumerUrl } from '../nats/consumer-url.js'
import { NATS_DEFAULTS, PROCESS_DEFAULTS } from './defaults.js'
import { parsePathBindings } from '../providers/bindings.js'
import { PROFILES } from '../providers/index.js'
import { parseKeywordList } from '../providers/keywords.js'
import { parseProviderZones } from '../providers/times.js'
import { ORDER_KEYS, type OrderKey } from './window.js'
import type { ProcessCommandOptions } from './run.js'
import { collectRoutes } from './command.js'

function parseOrderKey (value: string): OrderKey {
  if ((ORDER_KEYS as readonly string[]).includes(value)) return value as OrderKey
  throw new ConfigError(`Expected \`--order-key\` to be one of ${ORDER_KEYS.join(', ')}, got \`${value}\``)
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
