/** A small tmpfs of the test's own, for disk-full tests (we run as root; elsewhere the test skips). */
import { execFileSync } from 'node:child_process'
import { open, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { makeTempDir } from './tmp.js'

/**
 * Mounts a 256 KiB tmpfs and returns its path, or skips `t` (saying why) and returns undefined.
 * One after-hook runs `beforeUnmount` (stop what writes there), then unmounts and removes it.
 */
export async function mountSmallTmpfs (t: TestContext, beforeUnmount?: () => Promise<void>): Promise<string | undefined> {
  const mnt = await makeTempDir()
  let mounted = false
  t.after(async () => {
    await beforeUnmount?.()
    if (mounted) execFileSync('umount', ['-l', mnt])
    await rm(mnt, { recursive: true, force: true })
  })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', mnt], { stdio: 'pipe' })
    mounted = true
    return mnt
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim()
    t.skip(`cannot mount a tmpfs here: ${stderr !== undefined && stderr !== '' ? stderr : (err as Error).message}`)
    return undefined
  }
}

/** Fills the file system until ENOSPC, then gives back `leave` bytes. */
export async function fillUp (dir: string, leave: number): Promise<string> {
  const path = join(dir, 'filler')
  const fh = await open(path, 'w')
  const chunk = Buffer.alloc(4096, 0x61)
  let size = 0
  try {
    for (;;) size += (await fh.write(chunk)).bytesWritten
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
  }
  await fh.truncate(Math.max(0, size - leave))
  await fh.close()
  return path
}
