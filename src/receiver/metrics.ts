/**
 * The receiver's metrics. Counters are read from the figures the server and the writer keep anyway;
 * only the two histograms are fed, by the writer's onBatch hook. The spool's size needs a directory
 * listing, so it is cached and refreshed at most every few seconds, when scraped.
 */
import type { Logger } from 'pino'
import { spoolSize, type SpoolSize } from '../spool/disk.js'
import { Histogram, Registry, readMetric } from '../spool/prometheus.js'
import type { SpoolWriterStats } from '../spool/writer.js'
import type { ReceiverStats } from './server.js'

/** How old the cached spool size may be when scraped: a directory listing per scrape is too many. */
export const DEFAULT_SPOOL_SIZE_MAX_AGE_MS = 5000

export interface ReceiverMetricsSources {
  server: ReceiverStats
  writer: SpoolWriterStats
  spoolDir: string
  logger: Logger
  /** How old the cached spool size may be. @default 5000 */
  spoolSizeMaxAgeMs?: number
}

export interface ReceiverMetrics {
  registry: Registry
  /** Refreshes the cached figures if stale, then renders the exposition text. */
  render (): Promise<string>
}

/** Records per group commit: 1 when idle, up to the connection count under load. */
export const BATCH_RECORDS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
/** fdatasync: a tenth of a millisecond on a fast SSD, 1-10 ms on a real disk, far more on a sick one. */
export const SYNC_SECONDS_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5]

export function createReceiverMetrics (sources: ReceiverMetricsSources): ReceiverMetrics {
  const { server, writer } = sources
  const maxAge = sources.spoolSizeMaxAgeMs ?? DEFAULT_SPOOL_SIZE_MAX_AGE_MS
  const registry = new Registry()
  let size: SpoolSize = { segments: 0, bytes: 0 }
  let sizeAt = -Infinity

  registry.register(readMetric('counter', 'callback_spool_requests_total', 'HTTP requests answered on the callback port, by status',
    () => [...server.responses].sort(([a], [b]) => a - b).map(([status, value]) => ({ labels: { status: String(status) }, value }))))
  registry.register(readMetric('counter', 'callback_spool_received_bytes_total', 'Request body bytes received', () => server.bytesReceived))
  registry.register(readMetric('counter', 'callback_spool_records_spooled_total', 'Callbacks made durable and acknowledged', () => server.recordsSpooled))
  const batchRecords = registry.register(new Histogram('callback_spool_batch_records', 'Records per group commit (one write and one sync)', BATCH_RECORDS_BUCKETS))
  const syncSeconds = registry.register(new Histogram('callback_spool_fsync_seconds',
    'Duration of each group commit\'s fdatasync (with --durability os: of its write)', SYNC_SECONDS_BUCKETS))
  registry.register(readMetric('counter', 'callback_spool_segments_opened_total', 'Spool segments opened by this receiver', () => writer.segmentsOpened))
  registry.register(readMetric('gauge', 'callback_spool_segments', 'Segments in the spool directory', () => size.segments))
  registry.register(readMetric('gauge', 'callback_spool_spool_bytes', 'Sum of the sizes of the spool\'s segments', () => size.bytes))
  registry.register(readMetric('counter', 'callback_spool_write_errors_total', 'Failed spool writes, syncs or segment creations (each answered 503)', () => writer.writeErrors))
  registry.register(readMetric('gauge', 'callback_spool_in_flight_requests', 'Requests being handled now', () => server.inFlight))
  registry.register(readMetric('counter', 'callback_spool_connections_evicted_total',
    'Idle connections closed to make room for a new one at --max-connections (or per address)', () => server.connections.evicted))
  registry.register(readMetric('counter', 'callback_spool_connections_refused_total',
    'New connections refused: every connection had a request in progress', () => server.connections.refused))

  // Keep any hook already set: metrics are one listener among possibly several.
  const previous = writer.onBatch
  writer.onBatch = (records, bytes, seconds) => {
    batchRecords.observe(records)
    syncSeconds.observe(seconds)
    previous?.(records, bytes, seconds)
  }

  const refreshSize = async (): Promise<void> => {
    if (Date.now() - sizeAt < maxAge) return
    try {
      size = await spoolSize(sources.spoolDir)
      sizeAt = Date.now()
    } catch (err) {
      // Keep the last figure: a metrics scrape must not fail because of one listing.
      sources.logger.warn({ err }, 'cannot measure the spool size for /metrics')
    }
  }

  return {
    registry,
    async render () {
      await refreshSize()
      return registry.render()
    },
  }
}
