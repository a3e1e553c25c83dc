/**
 * `callback-spool process`: take the processor lock, then one pass (for crontab), passes on a
 * cron schedule (`--schedule`), or a pass for each change of the spool (`--follow`). Returns the
 * exit code: 0 done (also nothing to do, or another processor running), 75 retry later. Errors
 * (a bad checkpoint: 78) are thrown for the CLI to report.
 */
import { watch, type FSWatcher } from 'node:fs'
import type { Logger } from 'pino'
import { ConfigError } from '../errors.js'
import { RateLimitedLog } from '../rate-limited-log.js'
import { ensureDir } from '../fs/durable.js'
import { existingDataDir } from '../spool/data-dir.js'
import { dataLayout } from '../spool/layout.js'
import { tryAcquireLock } from '../spool/lock.js'
import type { PassFigures } from './metrics.js'
import { FOLLOW_DEFAULTS, NATS_DEFAULTS, type ProcessorOptions } from './defaults.js'
import { Processor, spoolSource, type SourceFactory } from './pass.js'
import { WakeableSleep } from './wakeable-sleep.js'

/** node-cron's API, loaded only for `--schedule`. */
type NodeCron = typeof import('node-cron').default

export const EXIT_OK = 0
export const EXIT_TEMPFAIL = 75

export interface ProcessCommandOptions extends ProcessorOptions {
  /** Stay running; a pass on this cron expression (seconds allowed). */
  schedule?: string
  /** Stay running; dispatch each new record as soon as it is written. */
  follow?: boolean
  /** --follow: poll this often too, in case file-system events are missed. @default 250 ms */
  pollIntervalMs?: number
  /** --follow: wait this long after a pass that must be retried, doubled after each one in a row (up to 2 min). @default 5 s */
  retryPauseMs?: number
  /** `--source nats://...`: a JetStream consumer instead of the local spool. */
  source?: string
  /** The ack wait of the consumer this processor creates. @default 30 s */
  ackWaitMs?: number
}

/** The spool, or the JetStream consumer of `--source` (its client loaded only then). */
async function sourceFactory (options: ProcessCommandOptions): Promise<SourceFactory> {
  if (options.source === undefined) return spoolSource
  const { parseConsumerUrl } = await import('../nats/consumer-url.js')
  const { JetStreamSource } = await import('./jetstream-source.js')
  const where = parseConsumerUrl(options.source)
  return async (o, layout) => new JetStreamSource(o, layout, { where, ackWaitMs: options.ackWaitMs ?? NATS_DEFAULTS.ackWaitMs, retryPauseMs: options.retryPauseMs ?? FOLLOW_DEFAULTS.retryPauseMs, follow: options.follow === true })
}

/** Called with the stop handler; the CLI wires it to SIGTERM and SIGINT. */
export type OnSignal = (handler: (signal: NodeJS.Signals) => void) => void

/**
 * `logger`, or what makes it: the CLI's is made once the lock's flock(1) child runs, so that
 * loading pino is not on the way to the first record (start-up: bench/NOTES.md).
 */
export async function runProcessCommand (options: ProcessCommandOptions, logger: Logger | (() => Promise<Logger>), onSignal: OnSignal): Promise<number> {
  if (options.schedule !== undefined && options.follow === true) {
    throw new ConfigError('Expected only one of `--schedule` and `--follow`')
  }
  // node-cron is loaded only for --schedule: one pass (cron, the benchmark) does not pay its loading.
  const cron = options.schedule === undefined ? undefined : (await import('./node-cron.js')).default
  if (options.schedule !== undefined && !cron!.validate(options.schedule)) {
    throw new ConfigError(`Expected \`--schedule\` to be a cron expression like "* * * * *" or "*/10 * * * * *", got \`${options.schedule}\``)
  }
  // Only the receiver creates a data dir: a mistyped --data-dir is refused (66), not made empty.
  const layout = dataLayout(options.dataDir)
  await existingDataDir(layout)
  // The lock is taken while the processor is made: once the flock(1) child runs, the pass's
  // modules are loaded and its targets made beside it, not after it (start-up: bench/NOTES.md).
  let spawned!: () => void
  const flockRunning = new Promise<void>((resolve) => { spawned = resolve })
  const locking = tryAcquireLock(layout, 'processor', spawned)
  await Promise.race([flockRunning, locking.then(() => {}, () => {})])
  let processor: Processor
  let log: Logger
  try {
    log = (typeof logger === 'function' ? await logger() : logger).child({ component: 'processor' })
    processor = await Processor.create(options, layout, log, await sourceFactory(options))
  } catch (err) {
    await (await locking.catch(() => undefined))?.release()
    throw err
  }
  let lock: Awaited<typeof locking>
  try {
    lock = await locking
  } catch (err) {
    await processor.close()
    throw err
  }
  if (lock === undefined) {
    await processor.close()
    log.info({ data_dir: layout.root }, 'another processor is running on this data dir; nothing to do')
    return EXIT_OK
  }
  let stopSleep: (() => void) | undefined
  onSignal((signal) => {
    log.info({ signal }, 'signal received: finishing the records in hand')
    processor.requestStop()
    stopSleep?.()
  })
  try {
    if (options.follow === true && options.source !== undefined) return await followSource(processor, options, log, (wake) => { stopSleep = wake })
    if (options.follow === true) return await follow(processor, options, log, (wake) => { stopSleep = wake })
    if (options.schedule !== undefined) return await schedule(cron!, processor, options.schedule, log, (wake) => { stopSleep = wake })
    const figures = await onePass(processor, log, true)
    return figures.outcome === 'retry_later' ? EXIT_TEMPFAIL : EXIT_OK
  } finally {
    await processor.close()
    await lock.release()
  }
}

/** A pass stuck on the same record logs one line a minute, not one per retry pause. */
const stuckPasses = new WeakMap<Logger, RateLimitedLog>()

async function onePass (processor: Processor, log: Logger, alwaysLog: boolean): Promise<PassFigures> {
  const figures = await processor.runPass()
  const busy = figures.records_read > 0 || figures.requeued_read > 0 || figures.outcome !== 'done' || figures.quarantined > 0 || figures.segments_deleted > 0
  if (alwaysLog || busy) {
    // Figures that cannot be saved (a full disk) do not change what the pass did, nor its exit code.
    await processor.recordPass(figures).catch((err: unknown) => log.error({ err }, 'cannot save the figures of the pass (state/last-pass.json, --metrics-file)'))
    const msg = `pass ${figures.outcome}: ${figures.records_read} records in ${figures.duration_ms} ms, ${figures.lag_records} left`
    if (!busy) {
      // An idle pass (nothing read, nothing changed) is not news: cron would log one a minute.
      log.debug(passSummary(figures), msg)
    } else if (figures.outcome === 'retry_later' && figures.records_read === 0 && figures.requeued_read === 0) {
      let limited = stuckPasses.get(log)
      if (limited === undefined) stuckPasses.set(log, limited = new RateLimitedLog(log, 60_000))
      limited.log('info', `retry_later ${JSON.stringify(figures.checkpoint)}`, passSummary(figures), msg)
    } else {
      log.info(passSummary(figures), msg)
    }
  }
  return figures
}

/** The pass figures for the log line: counts only, never a number or a text. */
function passSummary (f: PassFigures): Record<string, unknown> {
  return {
    outcome: f.outcome,
    records_read: f.records_read,
    requeued_read: f.requeued_read,
    by_kind: f.by_kind,
    by_provider: f.by_provider,
    duplicates: f.duplicates,
    invalid: f.invalid,
    dead_lettered: f.dead_lettered,
    quarantined: f.quarantined,
    segments_deleted: f.segments_deleted,
    lag_records: f.lag_records,
    lag_bytes: f.lag_bytes,
    lag_oldest_age_seconds: f.lag_oldest_age_seconds,
    checkpoint: f.checkpoint,
    duration_ms: f.duration_ms,
  }
}

/** The pause after the n-th pass in a row that must be retried: doubled each time, at most 2 min (or the first pause, if longer). */
export function retryPause (firstMs: number, n: number): number {
  return Math.min(firstMs * 2 ** Math.min(n - 1, 20), Math.max(firstMs, 120_000))
}

function sleeper (setWake: (wake: () => void) => void): WakeableSleep {
  const sleep = new WakeableSleep()
  setWake(() => sleep.wake())
  return sleep
}

/**
 * --follow: a pass whenever the spool directory changes (inotify through fs.watch), and every
 * `pollIntervalMs` anyway, for file systems where events are missed (NFS, some containers).
 */
async function follow (processor: Processor, options: ProcessCommandOptions, log: Logger, setWake: (wake: () => void) => void): Promise<number> {
  const spoolDir = processor.layout.spool
  const pollIntervalMs = options.pollIntervalMs ?? FOLLOW_DEFAULTS.pollIntervalMs
  const retryPauseMs = options.retryPauseMs ?? FOLLOW_DEFAULTS.retryPauseMs
  await ensureDir(spoolDir)
  const sleep = sleeper(setWake)
  let changed = false
  // A record to retry holds back every record after it: new records do not cut its back-off short.
  let pausing = false
  let failedPasses = 0
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(spoolDir, { persistent: false }, () => { changed = true; if (!pausing) sleep.wake() })
    watcher.on('error', (err) => { log.warn({ err }, 'watching the spool failed; polling only'); watcher?.close() })
  } catch (err) {
    log.warn({ err }, 'cannot watch the spool; polling only')
  }
  log.info({ spool: spoolDir, poll_ms: pollIntervalMs }, 'following the spool')
  try {
    while (!processor.stopping) {
      changed = false
      const figures = await onePass(processor, log, false)
      if (processor.stopping) break
      failedPasses = figures.outcome === 'retry_later' ? failedPasses + 1 : 0
      if (failedPasses > 0) {
        pausing = true
        await sleep.sleep(retryPause(retryPauseMs, failedPasses))
        pausing = false
      } else if (!changed) await sleep.sleep(pollIntervalMs)
    }
  } finally {
    watcher?.close()
  }
  log.info('stopped')
  return EXIT_OK
}

/**
 * --follow with a --source: one pass after the other, each waiting for messages in its fetches;
 * records handed back (nak) come again by themselves, so only a pass that failed (the server
 * unreachable, an output that cannot be written) pauses before the next.
 */
async function followSource (processor: Processor, options: ProcessCommandOptions, log: Logger, setWake: (wake: () => void) => void): Promise<number> {
  const sleep = sleeper(setWake)
  let failedPasses = 0
  log.info({ source: processor.source.description }, 'following the stream')
  while (!processor.stopping) {
    await onePass(processor, log, false)
    if (processor.stopping) break
    failedPasses = processor.lastPassFailed ? failedPasses + 1 : 0
    if (failedPasses > 0) await sleep.sleep(retryPause(options.retryPauseMs ?? FOLLOW_DEFAULTS.retryPauseMs, failedPasses))
  }
  log.info('stopped')
  return EXIT_OK
}

/** --schedule: a pass on each tick of the cron expression; a tick during a pass is skipped. */
async function schedule (cron: NodeCron, processor: Processor, expression: string, log: Logger, setWake: (wake: () => void) => void): Promise<number> {
  let running: Promise<unknown> | undefined
  let failure: unknown
  const sleep = sleeper(setWake)
  const task = cron.schedule(expression, () => {
    if (running !== undefined || processor.stopping) {
      if (running !== undefined) log.debug('previous pass still running: tick skipped')
      return
    }
    running = onePass(processor, log, true)
      .catch((err: unknown) => { failure = err; processor.requestStop(); sleep.wake() })
      .finally(() => { running = undefined })
  }, { noOverlap: true })
  log.info({ schedule: expression }, 'processing on a schedule')
  while (!processor.stopping) await sleep.sleep(3_600_000)
  await task.stop()
  await task.destroy()
  await running
  if (failure !== undefined) throw failure
  log.info('stopped')
  return EXIT_OK
}
