/** Temp dirs for tests, removed when the test ends. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'

/** A new empty temp dir; the caller removes it. */
export function makeTempDir (): Promise<string> {
  return mkdtemp(join(tmpdir(), 'callback-spool-'))
}

export async function tempDir (t: TestContext): Promise<string> {
  const dir = await makeTempDir()
  // Hooks run in the order they were added, so a server started later may still be stopping:
  // retry rather than fail on a file it creates meanwhile.
  t.after(() => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }))
  return dir
}
