/** A sleep that another part of the program can cut short: a signal, a change in the spool. */
export class WakeableSleep {
  private pending: (() => void) | undefined

  sleep (ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => { this.pending = undefined; resolve() }, ms)
      this.pending = () => { clearTimeout(timer); resolve() }
    })
  }

  /** Ends the sleep in progress, if there is one. */
  wake (): void {
    const pending = this.pending
    this.pending = undefined
    pending?.()
  }
}
