/**
 * The processor's options and their defaults, apart from the processor itself: the CLI's option
 * definitions, `config` and the tools read them without loading the pass and its handlers.
 */
import { DEFAULT_DATA_DIR } from '../spool/layout.js'
import type { PathBinding } from '../providers/bindings.js'
import type { Route } from './dispatch.js'
import type { OrderKey } from './window.js'

export interface ProcessorOptions {
  dataDir: string
  /** `--on` routes; empty: every kind to `<data-dir>/out/<kind>.ndjson`. */
  routes: Route[]
  /** Octopush's zone (`--provider-tz ZONE`). @default 'Europe/Paris' */
  providerTz: string
  /** `--provider-tz PROVIDER=ZONE`: other providers' zones for their zone-less dates. @default each profile's */
  providerZones?: Readonly<Record<string, string>>
  /** `--dedupe-window`: a record whose provider key was seen this long before is not handed over (0: off). @default 24 h */
  dedupeWindowMs: number
  /** Failed passes before a record may be dead-lettered. @default 5 */
  maxAttempts: number
  /** How long a record keeps being retried after its first failure before it may be dead-lettered. @default 1 h */
  deadAfterMs: number
  /** Tries of one record within a pass. @default 3 */
  tries: number
  /** First back-off between tries, doubled each time. @default 500 ms */
  retryDelayMs: number
  /** Timeout of one exec or http call. @default 30 s */
  handlerTimeoutMs: number
  /** Records handled at once (1: one after the other). @default 32 */
  concurrency: number
  /** Records with the same value of this field are handled one after the other, in spool order. @default 'number' */
  orderKey: OrderKey
  /** Records between checkpoints (redeliveries after a crash: one batch plus the in-flight window at most). @default 10000 */
  batchSize: number
  /** Checkpoint at least this often when handlers are slow. @default 1 s */
  checkpointIntervalMs: number
  /** Fully processed segments older than this are deleted after a pass. @default 7 d */
  retainMs: number
  /** While a pass runs: a line for each handler call waiting longer than this, and state/pass-progress.json rewritten. @default 5 s */
  watchIntervalMs: number
  metricsFile?: string
  /** A JetStream stream a nats target creates when missing: its maximum age. @default 7 d */
  streamMaxAgeMs?: number
  /** ... and its replicas. @default 1 */
  streamReplicas?: number
  /** Show a progress bar on a terminal. @default true */
  progress: boolean
  /** Replies whose whole text is one of these are opt-outs. @default STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT, ARRET, ARRÊT, STOP SMS */
  optoutKeywords?: readonly string[]
  /** Replies whose whole text is one of these are opt-ins. @default START, UNSTOP */
  optinKeywords?: readonly string[]
  /** `--provider-path /PREFIX=PROVIDER`: requests under a prefix are that provider's, whatever their shape. @default none */
  providerPaths?: readonly PathBinding[]
}

export const PROCESS_DEFAULTS: ProcessorOptions = {
  dataDir: DEFAULT_DATA_DIR,
  routes: [],
  providerTz: 'Europe/Paris',
  dedupeWindowMs: 86_400_000,
  maxAttempts: 5,
  deadAfterMs: 3_600_000,
  tries: 3,
  retryDelayMs: 500,
  handlerTimeoutMs: 30_000,
  concurrency: 32,
  orderKey: 'number',
  batchSize: 10_000,
  checkpointIntervalMs: 1000,
  retainMs: 7 * 86_400_000,
  watchIntervalMs: 5000,
  progress: true,
}

/** `process --follow`'s defaults (and `cat --follow`'s poll). */
export const FOLLOW_DEFAULTS = {
  /** Poll this often too, in case file-system events are missed. */
  pollIntervalMs: 250,
  /** Wait this long after a pass that must be retried, doubled after each one in a row. */
  retryPauseMs: 5000,
}

/** A JetStream stream the nats target creates when missing, and the consumer `--source` creates. */
export const NATS_DEFAULTS = {
  /** The stream's maximum age. */
  streamMaxAgeMs: 7 * 24 * 3_600_000,
  /** The stream's replicas. */
  streamReplicas: 1,
  /** The consumer's ack wait: a processor gone, its messages go to the others after this. */
  ackWaitMs: 30_000,
} as const
