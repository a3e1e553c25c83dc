/**
 * `dead retry` while a processor runs: the dead-letter files are the running processor's to
 * rewrite, so the tool leaves a request, `<data-dir>/requeue/<time>-dead-retry-<pid>.request`
 * (`{"id": "<id>"}`, or `{"id": null}` for every dead letter), and the processor carries it out
 * at the start of its next pass, under its lock, before it writes any dead letter.
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ensureDir, readFileNoFollow, unlinkIfExists, writeFileDurably } from '../fs/durable.js'
import type { DataLayout } from '../spool/layout.js'

const SUFFIX = '.request'

export async function writeRetryRequest (layout: DataLayout, id: string | undefined, now = new Date()): Promise<string> {
  const dir = layout.requeue
  await ensureDir(dir)
  const file = join(dir, `${now.toISOString().replace(/[-:.]/g, '')}-dead-retry-${process.pid}${SUFFIX}`)
  // writeFileDurably writes a dot-file first, which is not listed, then renames it.
  await writeFileDurably(file, JSON.stringify({ id: id ?? null }) + '\n')
  return file
}

export interface RetryRequest {
  file: string
  /** undefined: every dead letter. */
  id: string | undefined
}

/** The requests waiting, oldest first; an unreadable one is returned with no id only if it parses. */
export async function listRetryRequests (layout: DataLayout): Promise<RetryRequest[]> {
  let names: string[]
  try {
    names = await readdir(layout.requeue)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const out: RetryRequest[] = []
  for (const name of names.filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.')).sort()) {
    const file = join(layout.requeue, name)
    const value = JSON.parse(await readFileNoFollow(file, 'utf8')) as { id?: unknown }
    out.push({ file, id: typeof value.id === 'string' ? value.id : undefined })
  }
  return out
}

export async function removeRetryRequest (request: RetryRequest): Promise<void> {
  await unlinkIfExists(request.file)
}
