/**
 * `<data-dir>/state/receiver-answers.json`: what the running receiver answered, by status code,
 * since it started and over the last five minutes, rewritten every few seconds by the receiver
 * and read by `status`. Lives in spool/ because both sides use it: the receiver writes, the tools
 * read. Not made durable: it describes a running process.
 */
import { rename, writeFile } from 'node:fs/promises'
import { ensureDir, readFileNoFollow } from '../fs/durable.js'
import type { DataLayout } from './layout.js'

export interface ReceiverAnswers {
  pid: number
  started_at: string
  updated_at: string
  /** Status code -> requests answered with it since the receiver started. */
  since_start: Record<string, number>
  /** The same over the last five minutes (or since the start, if shorter). */
  last_5m: Record<string, number>
}

export const ANSWERS_WINDOW_MS = 5 * 60_000

export async function writeReceiverAnswers (layout: DataLayout, answers: ReceiverAnswers): Promise<void> {
  const path = layout.receiverAnswers
  await ensureDir(layout.state)
  const tmp = `${path}.${process.pid}.tmp`
  await writeFile(tmp, JSON.stringify(answers) + '\n', { mode: 0o600 })
  await rename(tmp, path)
}

export async function readReceiverAnswers (layout: DataLayout): Promise<ReceiverAnswers | undefined> {
  try {
    return JSON.parse(await readFileNoFollow(layout.receiverAnswers, 'utf8')) as ReceiverAnswers
  } catch {
    return undefined
  }
}
