/**
 * Where a storage engine reports how long each write took, commit included (the metrics'
 * parley_sqlite_write_seconds and parley_pgsql_write_seconds). The engine is opened before the
 * server's metrics exist, so it times into this and the server says later where the figures go;
 * until then (and in tools such as parleyctl) they go nowhere.
 */
export class WriteTimer {
  private sink: ((seconds: number) => void) | undefined;

  reportTo(sink: (seconds: number) => void): void {
    this.sink = sink;
  }

  /** A write that took `seconds`, whether it committed or failed (a busy wait is latency too). */
  observe(seconds: number): void {
    this.sink?.(seconds);
  }

  /** Runs a synchronous write and reports its duration. */
  sync<T>(write: () => T): T {
    const started = performance.now();
    try {
      return write();
    } finally {
      this.observe((performance.now() - started) / 1000);
    }
  }

  /** Runs an asynchronous write and reports its duration once it has settled. */
  async async<T>(write: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await write();
    } finally {
      this.observe((performance.now() - started) / 1000);
    }
  }
}
