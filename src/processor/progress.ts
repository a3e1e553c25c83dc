/**
 * A plain progress bar on stderr, only when stderr is a terminal and the backlog is large:
 * `process [#######.............] 35% 120000 records 41 MiB left`. No dependency.
 */
const WIDTH = 30
const EVERY_MS = 200

export class ProgressBar {
  private readonly totalBytes: number
  private readonly stream: Pick<NodeJS.WriteStream, 'write'>
  private lastDraw = 0
  private drawn = false

  constructor (totalBytes: number, stream: Pick<NodeJS.WriteStream, 'write'> = process.stderr) {
    this.totalBytes = totalBytes
    this.stream = stream
  }

  /** A bar when stderr is a TTY and at least `minBytes` wait; otherwise undefined. */
  static maybe (backlogBytes: number, minBytes = 16 * 1024 * 1024, stream: NodeJS.WriteStream = process.stderr): ProgressBar | undefined {
    return stream.isTTY === true && backlogBytes >= minBytes ? new ProgressBar(backlogBytes, stream) : undefined
  }

  update (doneBytes: number, records: number, now = Date.now()): void {
    if (now - this.lastDraw < EVERY_MS) return
    this.lastDraw = now
    const ratio = Math.min(1, doneBytes / this.totalBytes)
    const filled = Math.round(ratio * WIDTH)
    const left = Math.max(0, this.totalBytes - doneBytes) / (1024 * 1024)
    this.stream.write(`\rprocess [${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${Math.floor(ratio * 100)}% ${records} records ${left.toFixed(0)} MiB left `)
    this.drawn = true
  }

  end (): void {
    if (this.drawn) this.stream.write('\n')
  }
}
