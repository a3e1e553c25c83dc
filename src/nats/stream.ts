/**
 * The JetStream stream the callbacks go to: its settings, created when missing, and what differs
 * in one that is already there (used as it is; the caller warns once).
 */
import { nanos, type NatsConnection } from '@nats-io/transport-node'
import { DiscardPolicy, JetStreamApiError, jetstreamManager, RetentionPolicy, StorageType, type StreamConfig, type StreamInfo } from '@nats-io/jetstream'
import { NATS_DEFAULTS } from '../processor/defaults.js'

export { DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX } from './url.js'
export const DEFAULT_STREAM_MAX_AGE_MS = NATS_DEFAULTS.streamMaxAgeMs
export const DEFAULT_STREAM_REPLICAS = NATS_DEFAULTS.streamReplicas
/** Republishes within this long after the first are recognised by their `Nats-Msg-Id`. */
export const MIN_DUPLICATE_WINDOW_MS = 10 * 60_000

export interface StreamSettings {
  name: string
  /** Messages go to `<prefix>.<kind>`; the stream listens on `<prefix>.>`. */
  subjectPrefix: string
  maxAgeMs: number
  replicas: number
}

/** The stream's configuration when we create it. */
export function streamConfig (settings: StreamSettings): Partial<StreamConfig> & { name: string } {
  return {
    name: settings.name,
    subjects: [`${settings.subjectPrefix}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // A full stream refuses new messages rather than delete unconsumed ones.
    discard: DiscardPolicy.New,
    max_age: nanos(settings.maxAgeMs),
    duplicate_window: nanos(Math.min(MIN_DUPLICATE_WINDOW_MS, settings.maxAgeMs)),
    num_replicas: settings.replicas,
  }
}

/** What in an existing stream differs from what we would have created, one phrase each; empty when nothing does. */
export function streamDifferences (info: StreamInfo, settings: StreamSettings): string[] {
  const c = info.config
  const want = streamConfig(settings)
  const out: string[] = []
  if (c.storage !== want.storage) out.push(`storage ${c.storage} (not ${want.storage!})`)
  if (c.retention !== want.retention) out.push(`retention ${c.retention} (not ${want.retention!})`)
  if (c.discard !== want.discard) out.push(`discard ${c.discard} (not ${want.discard!}: a full stream deletes its oldest messages, consumed or not)`)
  if (c.max_age !== want.max_age) out.push(`max_age ${c.max_age / 1e9}s (not ${want.max_age! / 1e9}s)`)
  if (c.duplicate_window < want.duplicate_window!) out.push(`duplicate_window ${c.duplicate_window / 1e9}s (less than ${want.duplicate_window! / 1e9}s: a republish after it is stored twice)`)
  if (c.num_replicas !== want.num_replicas) out.push(`replicas ${c.num_replicas} (not ${want.num_replicas!})`)
  const covers = (c.subjects ?? []).some((s) => s === '>' || s === `${settings.subjectPrefix}.>` || (s.endsWith('.>') && `${settings.subjectPrefix}.`.startsWith(s.slice(0, -1))))
  if (!covers) out.push(`subjects ${JSON.stringify(c.subjects ?? [])} (not covering ${settings.subjectPrefix}.>)`)
  return out
}

export interface EnsuredStream {
  created: boolean
  /** For an existing stream: what differs from what we would have created. */
  differences: string[]
  info: StreamInfo
}

/** Creates the stream when missing; an existing one is left as it is and its differences returned. */
export async function ensureStream (nc: NatsConnection, settings: StreamSettings, timeoutMs: number): Promise<EnsuredStream> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
  const existing = await streamInfo(nc, settings.name, timeoutMs)
  if (existing !== undefined) return { created: false, differences: streamDifferences(existing, settings), info: existing }
  try {
    return { created: true, differences: [], info: await jsm.streams.add(streamConfig(settings)) }
  } catch (err) {
    // Another forwarder created it meanwhile ("stream name already in use").
    const now = await streamInfo(nc, settings.name, timeoutMs)
    if (now === undefined) throw err
    return { created: false, differences: streamDifferences(now, settings), info: now }
  }
}

/** The stream's info, or undefined when there is no such stream. */
export async function streamInfo (nc: NatsConnection, name: string, timeoutMs: number): Promise<StreamInfo | undefined> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs })
  try {
    return await jsm.streams.info(name)
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === 10059) return undefined
    throw err
  }
}
