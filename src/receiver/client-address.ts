/**
 * The client's address, seen through trusted reverse proxies only.
 *
 * `X-Forwarded-For` is written by whoever sent the request, so it is believed only when the
 * peer is a configured proxy (an allowlist that believes it from anyone sees whatever the client
 * wrote). Each proxy appends the address it saw, so the list is read from the right: trusted
 * hops are skipped and the first untrusted one is the client. Entries left of it were written by
 * the client itself and are never believed.
 */
import { isIP } from 'node:net'
import { canonicalAddress, type AddressSet } from './cidr.js'

/** Longest hop kept when a forwarded entry is not an address (it ends up in the record). */
const MAX_HOP_LENGTH = 64

export function clientAddress (peer: string, forwardedFor: string | string[] | undefined, trustedProxies: AddressSet | undefined): string {
  const peerAddress = canonicalAddress(peer)
  if (trustedProxies === undefined || forwardedFor === undefined || !trustedProxies.has(peerAddress)) return peerAddress
  const header = Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor
  const hops = header.split(',')
  let client = peerAddress
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = canonicalAddress(hops[i]!)
    if (hop === '') continue
    // A hop that is not an address cannot be trusted or allowlisted: it is the answer, and an
    // allowlist will refuse it.
    if (isIP(hop) === 0) return hop.slice(0, MAX_HOP_LENGTH)
    client = hop
    if (!trustedProxies.has(hop)) return hop
  }
  // Every hop was a trusted proxy: the left-most one is the closest we know to the client.
  return client
}
