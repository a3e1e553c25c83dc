/** Polling for a condition in tests, with a deadline so a hang fails instead of stalling. */
import { setTimeout as sleep } from 'node:timers/promises'

/** Resolves once `check` is true; throws `timed out waiting for <what>` after `timeoutMs`. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, intervalMs = 10): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(intervalMs)
  }
}
