/**
 * One side of the reader comparison, run as a child process by bench/readers.ts so that each side
 * has its own CPU time and peak RSS: every line of every segment of `<dir>/spool`, in write order,
 * parsed as JSON, either by this project's reader (readLineBatches, then JSON.parse per line, as the
 * processor does before it decodes a record) or by the `ndjson` package (a read stream piped into
 * ndjson.parse(), which splits and parses). Prints the number of objects read.
 *
 *   node --import tsx bench/read-lines.ts reader|ndjson DIR
 */
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'ndjson'
import { dataLayout, listSegments } from '../src/spool/layout.js'
import { readLineBatches } from '../src/spool/reader.js'

const [mode, dir] = process.argv.slice(2)
if ((mode !== 'reader' && mode !== 'ndjson') || dir === undefined) throw new Error('usage: read-lines.ts reader|ndjson DIR')
const layout = dataLayout(dir)
const spool = layout.spool
let objects = 0
let bytes = 0
if (mode === 'reader') {
  for await (const batch of readLineBatches(layout, undefined)) {
    for (const { line } of batch.lines) {
      const value = JSON.parse(line) as { id?: string }
      if (value.id !== undefined) objects++
      bytes += line.length
    }
  }
} else {
  for (const segment of await listSegments(spool)) {
    for await (const value of createReadStream(join(spool, segment.name)).pipe(parse()) as AsyncIterable<{ id?: string }>) {
      if (value.id !== undefined) objects++
    }
  }
}
process.stdout.write(`${objects}${bytes > 0 ? ` ${bytes}` : ''}\n`)
