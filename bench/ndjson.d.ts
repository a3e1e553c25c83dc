/** The one function of `ndjson` (2.x) the reader comparison uses; the package ships no types. */
declare module 'ndjson' {
  import type { Transform } from 'node:stream'
  export function parse (options?: { strict?: boolean }): Transform
}
