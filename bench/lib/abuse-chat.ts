// The normal users of the abuse scenario: pairs chatting at a fixed rate without a pause, in
// short windows of the load generator's msgStep (worker.ts), each window filed under the phase
// that was current when it began. They never fall silent, so a server that pings idle clients
// (a keepalive) does not take them for dead; and the coordinator switches phases only between
// windows (nextPhase), so that no window mixes the quiet baseline with the abuse.
import type { MsgStepResult } from "./protocol.js";
import type { ScenarioContext } from "./scenarios.js";
import { Histogram, latencies, round } from "./stats.js";
import { userName } from "./protocol.js";

export interface PhaseFigures {
  windows: number;
  sent: number;
  received: number;
  /** Sent but neither delivered nor bounced by the end of its window's drain. */
  lost: number;
  bounced: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  /** p99 of each window, in order: where in the phase the latency was. */
  windowP99ms: number[];
}

export class ChatLoop {
  private phase = "";
  private readonly hists = new Map<string, Histogram>();
  private readonly sums = new Map<string, PhaseFigures>();
  private running: Promise<void> | null = null;
  private stopping = false;
  private phaseWaiters: { phase: string; resolve: () => void }[] = [];

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly pairs: [number, number][],
    private readonly rate: number,
    private readonly windowS: number,
  ) {}

  /** Starts chatting, in `phase`. */
  start(phase: string): void {
    this.phase = phase;
    this.running = this.loop();
  }

  /**
   * From the next window on, windows belong to `phase`; resolves when the first of them begins
   * (the window before it has ended and drained).
   */
  nextPhase(phase: string): Promise<void> {
    this.phase = phase;
    return new Promise((resolve) => this.phaseWaiters.push({ phase, resolve }));
  }

  /** Ends after the current window; the figures by phase. */
  async stop(): Promise<Record<string, PhaseFigures>> {
    this.stopping = true;
    await this.running;
    for (const w of this.phaseWaiters.splice(0)) w.resolve();
    return Object.fromEntries(this.sums);
  }

  private async loop(): Promise<void> {
    const gen = this.ctx.gen;
    const byWorker: [string, string][][] = Array.from({ length: gen.workers }, () => []);
    for (const [a, b] of this.pairs) byWorker[gen.workerOf(a)]!.push([userName(a), userName(b)]);
    while (!this.stopping) {
      const phase = this.phase;
      for (const w of this.phaseWaiters.filter((x) => x.phase === phase)) w.resolve();
      this.phaseWaiters = this.phaseWaiters.filter((x) => x.phase !== phase);
      const results = await gen.each<MsgStepResult>((w) =>
        byWorker[w]!.length
          ? {
              op: "msgStep",
              pairs: byWorker[w]!,
              rate: (this.rate * byWorker[w]!.length) / this.pairs.length,
              durationMs: this.windowS * 1000,
              drainMs: 2000,
            }
          : null,
      );
      this.add(phase, results);
    }
  }

  private add(phase: string, results: MsgStepResult[]): void {
    const hist = this.hists.get(phase) ?? new Histogram();
    this.hists.set(phase, hist);
    const window = Histogram.from(results.map((r) => r.hist));
    hist.merge(window);
    const sum = (f: (r: MsgStepResult) => number) => results.reduce((s, r) => s + f(r), 0);
    const prev = this.sums.get(phase);
    const sent = (prev?.sent ?? 0) + sum((r) => r.sent);
    const received = (prev?.received ?? 0) + sum((r) => r.received);
    const bounced = (prev?.bounced ?? 0) + sum((r) => r.bounced);
    this.sums.set(phase, {
      windows: (prev?.windows ?? 0) + 1,
      sent,
      received,
      bounced,
      lost: sent - received - bounced,
      ...latencies(hist),
      windowP99ms: [...(prev?.windowP99ms ?? []), round(window.quantile(0.99) / 1000, 2)],
    });
  }
}
