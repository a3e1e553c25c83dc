/**
 * bench/RESULTS.md, written by `npm run bench`: one section per part (receiver, start-up,
 * processor), each replaced by the run that measured it and headed by its date, machine, load and
 * command; a part that did not run keeps its last section.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { cpus, freemem, loadavg, totalmem } from 'node:os'

export const RESULTS_PATH = new URL('RESULTS.md', import.meta.url)
export const PARTS = ['receiver', 'startup', 'processor', 'dedupe'] as const
export type Part = typeof PARTS[number]

const TITLES: Record<Part, string> = { receiver: 'Receiver', startup: 'Start-up', processor: 'Processor', dedupe: 'De-duplication' }

const HEADER = `# Benchmark results

Written by \`npm run bench\` (bench/run.ts): each part is replaced by the run that measured it, with
its date, machine, load and command; a part that was not run keeps its last figures. What the
targets are, dated runs and what changed the figures: [NOTES.md](NOTES.md).
`

/** The machine and the moment, for a section's first line. */
export function describeRun (command: string, startLoad: number[], at = new Date()): string {
  const cpu = cpus()
  const gib = (n: number): string => (n / 1024 ** 3).toFixed(1)
  return `Measured ${at.toISOString().slice(0, 16).replace('T', ' ')} UTC with \`${command}\` on ${cpu.length} × ${cpu[0]?.model.trim() ?? 'cpu'} ` +
    `(${cpu.length} cores), ${gib(totalmem())} GiB of memory (${gib(freemem())} free), Node ${process.version}; ` +
    `load average ${startLoad.map((n) => n.toFixed(2)).join(' ')} at the start, ${loadavg().map((n) => n.toFixed(2)).join(' ')} at the end.`
}

/** The command as typed: `npm run bench -- --only processor`. */
export function benchCommand (argv: string[]): string {
  return `npm run bench${argv.length === 0 ? '' : ` -- ${argv.join(' ')}`}`
}

function marker (part: Part, end: boolean): string {
  return `<!-- ${end ? '/' : ''}${part} -->`
}

/** Replaces the sections of `fresh` in `previous` (a RESULTS.md, or '' for none); keeps the others in the parts' order. */
export function mergeResults (previous: string, fresh: Partial<Record<Part, string>>): string {
  const sections: string[] = []
  for (const part of PARTS) {
    let body = fresh[part]
    if (body === undefined) {
      const start = previous.indexOf(marker(part, false))
      const end = previous.indexOf(marker(part, true))
      if (start === -1 || end === -1 || end < start) continue
      body = previous.slice(start + marker(part, false).length, end).trim().replace(/^## [^\n]*\n+/, '')
    }
    sections.push(`${marker(part, false)}\n## ${TITLES[part]}\n\n${body.trim()}\n${marker(part, true)}`)
  }
  return `${HEADER}\n${sections.join('\n\n')}\n`
}

export async function writeResults (fresh: Partial<Record<Part, string>>, path: URL = RESULTS_PATH): Promise<void> {
  let previous = ''
  try {
    previous = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  await writeFile(path, mergeResults(previous, fresh))
}
