/** Reads an NDJSON file (dead letters, outputs) into objects; a missing file reads as empty. */
import { readFile } from 'node:fs/promises'

export async function readNdjson (path: string): Promise<Array<Record<string, unknown>>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}
