/** Counts the complete lines a server left behind, to hold it to what it acknowledged. */
import { createReadStream } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

export interface LineCount {
  lines: number
  files: number
  /** Files whose last byte is not `\n`: a torn line. */
  tornFiles: number
}

async function countFile (path: string): Promise<{ lines: number, torn: boolean }> {
  let lines = 0
  let last = 0x0a
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) lines++
    if (chunk.length > 0) last = chunk[chunk.length - 1]!
  }
  return { lines, torn: last !== 0x0a }
}

/** `path` is one file, or a receiver data dir whose spool/*.ndjson segments are counted. */
export async function countLines (path: string): Promise<LineCount> {
  const files = (await stat(path)).isDirectory()
    ? (await readdir(join(path, 'spool'))).filter((n) => n.endsWith('.ndjson')).map((n) => join(path, 'spool', n))
    : [path]
  const total: LineCount = { lines: 0, files: files.length, tornFiles: 0 }
  for (const file of files) {
    const { lines, torn } = await countFile(file)
    total.lines += lines
    if (torn) total.tornFiles++
  }
  return total
}
