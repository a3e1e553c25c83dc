/** Processor options for tests: the defaults, fast retries (dead-lettered after --max-attempts passes, no time budget), no progress output. */
import { PROCESS_DEFAULTS, type ProcessorOptions } from '../../src/processor/pass.js'

export function processorOptions (dataDir: string, overrides: Partial<ProcessorOptions> = {}): ProcessorOptions {
  return { ...PROCESS_DEFAULTS, dataDir, retryDelayMs: 5, deadAfterMs: 0, progress: false, ...overrides }
}
