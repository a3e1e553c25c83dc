/** A sleep that another part of the program can cut short: a signal, a change in the spool. */
export class WakeableSleep {
  /** Every sleep in progress: records in flight side by side may each be in a back-off. */
  private readonly pending = new Set<() => void>()

  sleep (ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const end = (): void => { clearTimeout(timer); this.pending.delete(end); resolve() }
      const timer = setTimeout(end, ms)
      this.pending.add(end)
    })
  }

  /** Ends every sleep in progress. */
  wake (): void {
    for (const end of [...this.pending]) end()
  }
}
