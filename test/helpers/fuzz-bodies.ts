/**
 * A seeded generator of hostile request bodies and content types, for the fuzz test and the
 * soak script: same seed, same bodies, so a failure can be replayed.
 */

/** mulberry32: small, fast, good enough to spread inputs; not for secrets. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface FuzzCase {
  kind: string
  body: Buffer
  contentType: string | undefined
}

const CONTENT_TYPES = [
  undefined,
  'application/json',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=ISO-8859-1',
  'text/plain',
  'application/octet-stream',
  'multipart/form-data; boundary=xyz',
  'application/json; charset=utf-16',
  'image/png',
  '',
  'x/y; a="b;c"',
]

const KEYS = ['number', 'text', 'message_id', 'status', 'stop_date', 'delivery_date', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', 'é', '\u0000', 'a.b', 'a[b]', '😀']
const ATOMS = ['+33600112233', '0033600112233', 'STOP', 'DELIVERED', '2026-11-27 12:00:00', '', '\r\n', '\u2028', '\u0000', 'é', '\ud800', '😀', '%', '%zz', '%E9', '+', '&', '=', '"', '\\', '{', '}', '[', ']']

/** encodeURIComponent that accepts lone surrogates (they become U+FFFD, as UTF-8 would). */
const encode = (s: string): string => encodeURIComponent(Buffer.from(s, 'utf8').toString('utf8'))

export function fuzzGenerator (seed: number) {
  const rnd = seededRandom(seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(list: readonly T[]): T => list[int(list.length)]!

  const randomString = (max: number): string => {
    let s = ''
    const n = int(max)
    for (let i = 0; i < n; i++) {
      const r = rnd()
      if (r < 0.3) s += pick(ATOMS)
      else if (r < 0.9) s += String.fromCharCode(0x20 + int(95))
      else s += String.fromCharCode(int(0x10000))
    }
    return s
  }

  const randomJsonValue = (depth: number): unknown => {
    const r = rnd()
    if (depth > 6 || r < 0.3) return randomString(20)
    if (r < 0.4) return int(1e9) * (rnd() < 0.5 ? -1 : 1)
    if (r < 0.45) return null
    if (r < 0.5) return rnd() < 0.5
    if (r < 0.7) return Array.from({ length: int(5) }, () => randomJsonValue(depth + 1))
    const o: Record<string, unknown> = {}
    for (let i = int(6); i > 0; i--) Object.defineProperty(o, rnd() < 0.5 ? pick(KEYS) : randomString(8), { value: randomJsonValue(depth + 1), enumerable: true, configurable: true, writable: true })
    return o
  }

  const mutate = (b: Buffer): Buffer => {
    const out = Buffer.from(b)
    for (let i = int(4); i > 0 && out.length > 0; i--) out[int(out.length)] = int(256)
    return rnd() < 0.3 ? out.subarray(0, int(out.length + 1)) : out
  }

  const makers: Array<[string, () => Buffer]> = [
    ['bytes', () => Buffer.from(Array.from({ length: int(600) }, () => int(256)))],
    ['json', () => Buffer.from(JSON.stringify(randomJsonValue(0)) ?? 'null')],
    ['json-mutated', () => mutate(Buffer.from(JSON.stringify(randomJsonValue(0)) ?? '{}'))],
    ['json-padded', () => Buffer.from(pick(['\ufeff', ' \r\n\t', '', '\u00a0']) + JSON.stringify({ [pick(KEYS)]: randomJsonValue(1) }) + pick(['', ' ', '\n', 'x', '}']))],
    ['form', () => Buffer.from(Array.from({ length: int(12) }, () => `${encode(randomString(6))}=${rnd() < 0.5 ? encode(randomString(10)) : randomString(10)}`).join(pick(['&', '&&', ';', '&=&'])))],
    ['form-mutated', () => mutate(Buffer.from(`number=%2B33600112233&text=${encode(randomString(30))}&stop_date=2026-11-27`))],
    ['nested', () => { const d = 1 + int(3000); return Buffer.from(`{"a":${'['.repeat(d)}${']'.repeat(rnd() < 0.8 ? d : int(d))}}`) }],
    ['text', () => Buffer.from(randomString(200))],
    ['latin1', () => Buffer.from(`text=${randomString(40)}`, 'latin1')],
    ['large', () => Buffer.alloc(2000 + int(8000), pick(['a', '{', '%', '&', '\u0000']))],
    ['empty', () => Buffer.alloc(0)],
  ]

  return {
    rnd,
    int,
    next (): FuzzCase {
      const [kind, make] = pick(makers)
      return { kind, body: make(), contentType: pick(CONTENT_TYPES) }
    },
  }
}
