/** Processor options for tests: the defaults, fast retries, no progress output. */
import { PROCESS_DEFAULTS, type ProcessorOptions } from '../../src/processor/pass.js'

export function processorOptions (dataDir: string, overrides: Partial<ProcessorOptions> = {}): ProcessorOptions {
  return { ...PROCESS_DEFAULTS, dataDir, retryDelayMs: 5, progress: false, ...overrides }
}
