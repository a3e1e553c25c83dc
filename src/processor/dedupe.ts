/**
 * `--dedupe-window`: the providers' natural keys (`dedupe_key`) seen within the window, so that a
 * re-send is counted as a duplicate and not handed over again. A key is remembered once its record
 * is done, with the record's `received_at` and its id; a record is a duplicate when its key was
 * remembered from another record (a re-send is a new spool record) received at most the window
 * before it. The same record handed over again (a `replay`, a re-queue, a redelivery after a
 * crash) is not a duplicate: those stay at-least-once, by `id`.
 *
 * Memory is bounded: a key is kept as 64 bits of its SHA-256, its time in seconds and 32 bits of
 * a hash of its record's id, in an open-addressing table (linear probing, at most three quarters
 * full: its slots are a power of two, at least 4/3 of the keys) and a queue in the order keys were
 * remembered, from which keys older than the window (behind the newest time seen) are dropped:
 * 16 bytes per slot and per queued key, 32 MB for 750 k keys, 48 MB for 1 M (bench/, `--only dedupe`).
 *
 * Durability: the keys remembered since the last commit are appended to
 * `state/dedupe-keys.bin` and synced before the checkpoint is saved, in blocks with a CRC, so a
 * torn block left by a crash is dropped (its records, after the checkpoint, are handed over again,
 * as without de-duplication). The file is rewritten with only the live keys when it holds twice as
 * many as there are live, or after a torn block.
 */
import { crypto, zlib } from '../lazy-builtin.js'
import { constants } from 'node:fs'
import type { DataLayout } from '../spool/layout.js'
import { ensureDir, openNoFollow, writeFileDurably, writeFully } from '../fs/durable.js'

const MAGIC = 0x4b444432 // 'DDK2'
const HEADER = 12
const ENTRY = 16
const MIN_CAPACITY = 1024

/** The last key hashed: a record's key is looked up, then remembered when it is done. */
let lastKey: string | undefined
let lastHash: { hi: number, lo: number } = { hi: 0, lo: 1 }

function hash64 (key: string): { hi: number, lo: number } {
  if (key === lastKey) return lastHash
  // The one-shot form (a third of createHash's cost per key), as a 'binary' (latin1) string, one
  // char per byte: a quarter of the cost of the same digest as a Buffer.
  const d = crypto().hash('sha256', key, 'binary')
  // 0 is the table's empty mark: a key hashing to 0:0 is stored as 0:1 (one more collision in 2^64).
  const hi = uint32le(d, 0)
  const lo = uint32le(d, 4)
  lastKey = key
  lastHash = { hi, lo: hi === 0 && lo === 0 ? 1 : lo }
  return lastHash
}

/** Bytes `at` to `at + 3` of a latin1 string, as Buffer#readUInt32LE reads them. */
function uint32le (bytes: string, at: number): number {
  return (bytes.charCodeAt(at) | bytes.charCodeAt(at + 1) << 8 | bytes.charCodeAt(at + 2) << 16 | bytes.charCodeAt(at + 3) << 24) >>> 0
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

/**
 * The file's little-endian 32-bit words (blocks and entries start at multiples of 4): read from
 * an array over the same bytes where the machine is little-endian, not by a call of
 * readUInt32LE for each, which a pass pays before its first record.
 */
function wordsOf (data: Buffer): Uint32Array {
  if (LITTLE_ENDIAN && data.byteOffset % 4 === 0) return new Uint32Array(data.buffer, data.byteOffset, Math.floor(data.length / 4))
  const words = new Uint32Array(Math.floor(data.length / 4))
  for (let i = 0; i < words.length; i++) words[i] = data.readUInt32LE(i * 4)
  return words
}

/** The last id hashed: a record's id is hashed when its key is looked up, then when it is remembered. */
let lastId: string | undefined
let lastIdHash = 0

/** FNV-1a, 32 bits: tells one record id from another (not a security boundary: ids are ours). */
function idHash (id: string): number {
  if (id === lastId) return lastIdHash
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193)
  lastId = id
  lastIdHash = h >>> 0
  return lastIdHash
}

export class DedupeWindow {
  readonly windowSeconds: number
  private capacity = MIN_CAPACITY
  private mask = MIN_CAPACITY - 1
  private hi = new Uint32Array(MIN_CAPACITY)
  private lo = new Uint32Array(MIN_CAPACITY)
  private at = new Uint32Array(MIN_CAPACITY)
  private rid = new Uint32Array(MIN_CAPACITY)
  private count = 0
  /** The queue of keys remembered, oldest first: a ring of (hi, lo, at, rid) entries. */
  private queue = new Uint32Array(MIN_CAPACITY * 4)
  private queueHead = 0
  private queueSize = 0
  private newest = 0
  /** Entries remembered since the last commit took them. */
  private pending: number[] = []
  /** Entries in the file, live or not. */
  private fileEntries = 0
  private rewrite = false

  constructor (windowMs: number) {
    this.windowSeconds = Math.max(1, Math.ceil(windowMs / 1000))
  }

  /** Keys in the window. */
  get size (): number {
    return this.count
  }

  /** Bytes held by the table and the queue. */
  get bytes (): number {
    return this.hi.byteLength + this.lo.byteLength + this.at.byteLength + this.rid.byteLength + this.queue.byteLength
  }

  /** True when the key was remembered from another record (`id`), received at most the window before `receivedAtMs`. */
  seen (key: string, receivedAtMs: number, id: string): boolean {
    // An empty window has seen nothing: no digest (the first pass's first record does not wait
    // for node:crypto to load).
    if (this.count === 0) return false
    const { hi, lo } = hash64(key)
    const slot = this.find(hi, lo)
    if (slot === -1 || this.rid[slot] === idHash(id)) return false
    const t = Math.floor(receivedAtMs / 1000)
    return Math.abs(t - this.at[slot]!) <= this.windowSeconds
  }

  /** Remembers a key, from a record (`id`) done. */
  remember (key: string, receivedAtMs: number, id: string): void {
    const { hi, lo } = hash64(key)
    const t = Math.max(1, Math.floor(receivedAtMs / 1000))
    const r = idHash(id)
    if (this.put(hi, lo, t, r)) this.pending.push(hi, lo, t, r)
  }

  /** Puts an entry in the table and the queue; false when the same key was there with the same time and record. */
  private put (hi: number, lo: number, t: number, r: number): boolean {
    if (t > this.newest) {
      this.newest = t
      this.expire()
    } else if (t < this.newest - this.windowSeconds) {
      return false
    }
    // The key's slot, or the free one where it goes: one probe, in here, for both (a load puts
    // thousands of keys before a pass's first record, and a call costs there).
    const { at, mask } = this
    let slot = hi & mask
    while (at[slot] !== 0 && (this.hi[slot] !== hi || this.lo[slot] !== lo)) slot = (slot + 1) & mask
    if (at[slot] !== 0) {
      // The first record of a key keeps it (a duplicate is never remembered; the same record again changes nothing).
      if (at[slot] === t && this.rid[slot] === r) return false
      if (at[slot]! >= t - this.windowSeconds && this.rid[slot] !== r) return false
      at[slot] = t
      this.rid[slot] = r
    } else {
      if ((this.count + 1) * 4 > this.capacity * 3) {
        this.grow()
        slot = this.freeSlot(hi)
      }
      this.hi[slot] = hi
      this.lo[slot] = lo
      this.at[slot] = t
      this.rid[slot] = r
      this.count++
    }
    let slots = this.queue.length / 4
    if (this.queueSize === slots) this.resizeQueue(slots *= 2)
    const q = ((this.queueHead + this.queueSize) % slots) * 4
    this.queue[q] = hi
    this.queue[q + 1] = lo
    this.queue[q + 2] = t
    this.queue[q + 3] = r
    this.queueSize++
    return true
  }

  private find (hi: number, lo: number): number {
    let slot = hi & this.mask
    while (this.at[slot] !== 0) {
      if (this.hi[slot] === hi && this.lo[slot] === lo) return slot
      slot = (slot + 1) & this.mask
    }
    return -1
  }

  private freeSlot (hi: number): number {
    let slot = hi & this.mask
    while (this.at[slot] !== 0) slot = (slot + 1) & this.mask
    return slot
  }

  /** Removes a slot, shifting back the entries after it that probed past it (no tombstones). */
  private remove (slot: number): void {
    let hole = slot
    let next = (slot + 1) & this.mask
    while (this.at[next] !== 0) {
      const home = this.hi[next]! & this.mask
      // The entry at `next` may move to the hole when its home is not within (hole, next].
      if (((next - home) & this.mask) >= ((next - hole) & this.mask)) {
        this.hi[hole] = this.hi[next]!
        this.lo[hole] = this.lo[next]!
        this.at[hole] = this.at[next]!
        this.rid[hole] = this.rid[next]!
        hole = next
      }
      next = (next + 1) & this.mask
    }
    this.at[hole] = 0
    this.count--
  }

  /** Room for `n` keys and queue entries at once (loading a file): one rehash and one copy, not one per doubling. */
  private reserve (n: number): void {
    let capacity = this.capacity
    while (n * 4 > capacity * 3) capacity *= 2
    if (capacity > this.capacity) this.resize(capacity)
    let slots = this.queue.length / 4
    while (slots < n) slots *= 2
    if (slots > this.queue.length / 4) this.resizeQueue(slots)
  }

  private grow (): void {
    this.resize(this.capacity * 2)
  }

  private resize (newCapacity: number): void {
    const { hi, lo, at, rid, capacity } = this
    this.capacity = newCapacity
    this.mask = this.capacity - 1
    this.hi = new Uint32Array(this.capacity)
    this.lo = new Uint32Array(this.capacity)
    this.at = new Uint32Array(this.capacity)
    this.rid = new Uint32Array(this.capacity)
    for (let i = 0; i < capacity; i++) {
      if (at[i] === 0) continue
      const slot = this.freeSlot(hi[i]!)
      this.hi[slot] = hi[i]!
      this.lo[slot] = lo[i]!
      this.at[slot] = at[i]!
      this.rid[slot] = rid[i]!
    }
  }

  /** The queue in an array of `slots` entries, oldest first (the ring unrolled in two copies at most). */
  private resizeQueue (slots: number): void {
    const bigger = new Uint32Array(slots * 4)
    const start = this.queueHead * 4
    const first = Math.min(this.queueSize * 4, this.queue.length - start)
    bigger.set(this.queue.subarray(start, start + first))
    bigger.set(this.queue.subarray(0, this.queueSize * 4 - first), first)
    this.queue = bigger
    this.queueHead = 0
  }

  /** Drops the keys remembered longer than the window before the newest. */
  private expire (): void {
    const cutoff = this.newest - this.windowSeconds
    const slots = this.queue.length / 4
    while (this.queueSize > 0) {
      const i = this.queueHead * 4
      const t = this.queue[i + 2]!
      if (t >= cutoff) break
      const slot = this.find(this.queue[i]!, this.queue[i + 1]!)
      // Remembered again since: a later entry of the queue stands for it.
      if (slot !== -1 && this.at[slot] === t && this.rid[slot] === this.queue[i + 3]) this.remove(slot)
      this.queueHead = (this.queueHead + 1) % slots
      this.queueSize--
    }
  }

  /**
   * What the next commit writes, taken now (synchronously, as the attempt counts): the entries
   * remembered since the last one, or every live entry when the file is to be rewritten.
   */
  take (): DedupeWrite | undefined {
    // No file yet (or nothing live in it): written whole, so that its creation is made durable too.
    if (this.rewrite || (this.fileEntries === 0 && this.pending.length > 0) || this.fileEntries + this.pending.length / 4 > 2 * this.count + 100_000) {
      const live = this.liveEntries()
      this.pending = []
      this.rewrite = false
      this.fileEntries = live.length / 4
      return { replace: true, data: block(live) }
    }
    if (this.pending.length === 0) return undefined
    const data = block(this.pending)
    this.fileEntries += this.pending.length / 4
    this.pending = []
    return { replace: false, data }
  }

  private liveEntries (): number[] {
    const out: number[] = []
    const slots = this.queue.length / 4
    for (let k = 0; k < this.queueSize; k++) {
      const i = ((this.queueHead + k) % slots) * 4
      const slot = this.find(this.queue[i]!, this.queue[i + 1]!)
      if (slot !== -1 && this.at[slot] === this.queue[i + 2] && this.rid[slot] === this.queue[i + 3]) {
        out.push(this.queue[i]!, this.queue[i + 1]!, this.queue[i + 2]!, this.queue[i + 3]!)
      }
    }
    return out
  }

  /** The window as the last commit left it; an absent file is an empty window. */
  static async load (layout: DataLayout, windowMs: number): Promise<DedupeWindow> {
    const window = new DedupeWindow(windowMs)
    let data: Buffer
    try {
      const fh = await openNoFollow(layout.dedupeKeys)
      try {
        data = await fh.readFile()
      } finally {
        await fh.close()
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return window
      throw err
    }
    window.reserve(Math.floor(data.length / ENTRY))
    const words = wordsOf(data)
    let offset = 0
    while (offset + HEADER <= data.length) {
      const n = data.readUInt32LE(offset + 4)
      const end = offset + HEADER + n * ENTRY
      if (data.readUInt32LE(offset) !== MAGIC || end > data.length || zlib().crc32(data.subarray(offset + HEADER, end)) !== data.readUInt32LE(offset + 8)) break
      for (let w = (offset + HEADER) / 4; w < end / 4; w += ENTRY / 4) window.put(words[w]!, words[w + 1]!, words[w + 2]!, words[w + 3]!)
      window.fileEntries += n
      offset = end
    }
    // A torn block (a crash while appending, before the checkpoint moved): rewritten at the next commit.
    if (offset !== data.length) window.rewrite = true
    return window
  }

  /** Writes what take() gave: appended and synced, or the whole file replaced. */
  static async write (layout: DataLayout, write: DedupeWrite): Promise<void> {
    const path = layout.dedupeKeys
    if (write.replace) {
      await ensureDir(layout.state)
      await writeFileDurably(path, write.data)
      return
    }
    const fh = await openNoFollow(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT)
    try {
      await writeFully(fh, write.data)
      await fh.datasync()
    } finally {
      await fh.close()
    }
  }
}

export interface DedupeWrite {
  replace: boolean
  data: Buffer
}

function block (entries: number[]): Buffer {
  const n = entries.length / 4
  const out = Buffer.allocUnsafe(HEADER + n * ENTRY)
  for (let i = 0; i < entries.length; i++) out.writeUInt32LE(entries[i]!, HEADER + i * 4)
  out.writeUInt32LE(MAGIC, 0)
  out.writeUInt32LE(n, 4)
  out.writeUInt32LE(zlib().crc32(out.subarray(HEADER)), 8)
  return out
}
