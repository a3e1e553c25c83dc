/** Parsing of sizes (`64KiB`) and durations (`1h`) as operators write them. */
import { ConfigError } from './errors.js'

const BYTE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
}

/** An upper bound, where a larger value could only be a mistake. */
export interface Limits {
  max?: number
}

/** `65536`, `64KiB`, `1MiB`, `1.5GB` -> bytes; 0 is refused. */
export function parseBytes (name: string, value: string | number, limits: Limits = {}): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(String(value))
  const factor = m === null ? undefined : BYTE_UNITS[m[2]!.toLowerCase()]
  if (m === null || factor === undefined) {
    throw new ConfigError(`Expected \`${name}\` to be a size like 65536, 64KiB or 1MiB, got \`${value}\``)
  }
  const bytes = Math.floor(Number(m[1]) * factor)
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new ConfigError(`Expected \`${name}\` to be a positive size, got \`${value}\``)
  }
  if (limits.max !== undefined && bytes > limits.max) {
    throw new ConfigError(`Expected \`${name}\` to be at most ${formatBytes(limits.max)}, got \`${value}\``)
  }
  return bytes
}

export const HOUR_MS = 3_600_000

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

/**
 * `500ms`, `10s`, `1h`, `7d`, `1h30m` -> milliseconds; a bare number is seconds. 0, however
 * written (`0`, `0s`), is refused unless `zero` says what it means for this option.
 */
export function parseDuration (name: string, value: string | number, limits: Limits & { zero?: string } = {}): number {
  const ms = durationMs(name, value)
  if (ms === 0 && limits.zero === undefined) {
    throw new ConfigError(`Expected \`${name}\` to be a duration above 0 like 10s, 1h or 7d, got \`${value}\``)
  }
  if (limits.max !== undefined && ms > limits.max) {
    throw new ConfigError(`Expected \`${name}\` to be at most ${formatDuration(limits.max)}, got \`${value}\``)
  }
  return ms
}

function durationMs (name: string, value: string | number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1000
  const text = String(value).trim()
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy
  let total = 0
  let consumed = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]!]!
    consumed = re.lastIndex
  }
  if (text === '' || consumed !== text.length) {
    throw new ConfigError(`Expected \`${name}\` to be a duration like 10s, 1h or 7d, got \`${value}\``)
  }
  return total
}

export function parsePort (name: string, value: string | number): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535 || String(value).trim() === '') {
    throw new ConfigError(`Expected \`${name}\` to be a port number from 0 to 65535, got \`${value}\``)
  }
  return n
}

export function parsePositiveInt (name: string, value: string | number, limits: Limits = {}): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0 || String(value).trim() === '') {
    throw new ConfigError(`Expected \`${name}\` to be a positive integer, got \`${value}\` (${typeof value})`)
  }
  if (limits.max !== undefined && n > limits.max) {
    throw new ConfigError(`Expected \`${name}\` to be at most ${limits.max}, got \`${value}\``)
  }
  return n
}

/**
 * 3600000 -> `1h`, 90000 -> `90s`, 604800000 -> `7d`: the largest unit that divides it, as an
 * option value (it parses back to `ms`). Weeks are read but not written: operators count in days.
 */
export function formatDuration (ms: number): string {
  for (const [unit, size] of Object.entries(DURATION_UNITS).reverse()) {
    if (unit !== 'w' && ms >= size && ms % size === 0) return `${ms / size}${unit}`
  }
  return `${ms}ms`
}

/** 65536 -> `64KiB`, 1073741824 -> `1GiB`: the largest binary unit that divides it, as an option value (it parses back to `bytes`). */
export function formatSize (bytes: number): string {
  for (const unit of ['TiB', 'GiB', 'MiB', 'KiB']) {
    const size = BYTE_UNITS[unit.toLowerCase()]!
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return String(bytes)
}

/** 1073741824 -> `1 GiB`, 1536 -> `1.5 KiB`: for messages people read. */
export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let value = bytes
  let i = 0
  while (Math.abs(value) >= 1024 && i < units.length - 1) {
    value /= 1024
    i++
  }
  return `${i === 0 ? value : Number(value.toFixed(1))} ${units[i]}`
}
