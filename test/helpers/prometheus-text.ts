/** A strict reader of the Prometheus text format, for tests: throws on any line it cannot read. */
export interface ParsedSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface ParsedExposition {
  types: Map<string, string>
  help: Map<string, string>
  samples: ParsedSample[]
}

const SAMPLE_RE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL_RE = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy

export function parseExposition (text: string): ParsedExposition {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline')
  const out: ParsedExposition = { types: new Map(), help: new Map(), samples: [] }
  for (const line of text.slice(0, -1).split('\n')) {
    let m: RegExpExecArray | null
    if ((m = /^# HELP (\S+) (.*)$/.exec(line)) !== null) {
      out.help.set(m[1]!, m[2]!)
    } else if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)) !== null) {
      if (out.types.has(m[1]!)) throw new Error(`TYPE given twice for ${m[1]}`)
      out.types.set(m[1]!, m[2]!)
    } else if ((m = SAMPLE_RE.exec(line)) !== null) {
      const labels: Record<string, string> = {}
      const body = m[2] ?? ''
      LABEL_RE.lastIndex = 0
      let consumed = 0
      let l: RegExpExecArray | null
      while (consumed < body.length && (l = LABEL_RE.exec(body)) !== null) {
        labels[l[1]!] = l[2]!.replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1')
        consumed = LABEL_RE.lastIndex
      }
      if (consumed !== body.length) throw new Error(`bad labels in line: ${line}`)
      const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
      if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in line: ${line}`)
      const family = m[1]!.replace(/_(bucket|sum|count)$/, '')
      if (!out.types.has(m[1]!) && !out.types.has(family)) throw new Error(`sample before its TYPE: ${line}`)
      out.samples.push({ name: m[1]!, labels, value })
    } else {
      throw new Error(`unreadable line: ${JSON.stringify(line)}`)
    }
  }
  return out
}

/** The value of the one sample with this name and these labels (a subset match), or undefined. */
export function sampleValue (parsed: ParsedExposition, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = parsed.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`)
  return found[0]?.value
}
