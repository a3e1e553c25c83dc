/**
 * Address sets from CIDR lists (`10.0.0.0/8,2001:db8::/32,192.0.2.7`), IPv4 and IPv6, on top of
 * node:net's BlockList. An IPv4 client seen on a dual-stack socket as `::ffff:192.0.2.7` is
 * matched as the IPv4 address it is.
 */
import { BlockList, isIP } from 'node:net'
import { ConfigError } from '../errors.js'

export interface AddressSet {
  /** Whether the address (IPv4, IPv6 or IPv4-mapped IPv6) is in the set. Never throws. */
  has (address: string): boolean
  /** The CIDRs as given, normalised, for logs. */
  readonly cidrs: readonly string[]
}

const MAPPED_V4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i

/** `::ffff:192.0.2.7` -> `192.0.2.7`; `[::1]` -> `::1`; any other address as it is. */
export function canonicalAddress (address: string): string {
  let a = address.trim()
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1)
  const m = MAPPED_V4.exec(a)
  return m === null ? a : m[1]!
}

/** Parses `--allow` / `--trust-proxy` values; throws ConfigError naming the option and the bad entry. */
export function parseCidrList (option: string, value: string): AddressSet {
  const list = new BlockList()
  const cidrs: string[] = []
  const entries = value.split(',').map((s) => s.trim()).filter((s) => s !== '')
  if (entries.length === 0) throw new ConfigError(`Expected \`${option}\` to be a list of CIDRs like 192.0.2.0/24,2001:db8::/32, got \`${value}\``)
  for (const entry of entries) {
    const slash = entry.indexOf('/')
    const address = canonicalAddress(slash === -1 ? entry : entry.slice(0, slash))
    const family = isIP(address)
    const maxBits = family === 4 ? 32 : 128
    const bits = slash === -1 ? maxBits : Number(entry.slice(slash + 1))
    if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > maxBits || (slash !== -1 && entry.slice(slash + 1).trim() === '')) {
      throw new ConfigError(`Expected \`${option}\` to be a list of CIDRs like 192.0.2.0/24,2001:db8::/32; \`${entry}\` is not one`)
    }
    list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6')
    cidrs.push(`${address}/${bits}`)
  }
  return {
    cidrs,
    has (raw: string): boolean {
      const address = canonicalAddress(raw)
      const family = isIP(address)
      if (family === 0) return false
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6')
    },
  }
}
