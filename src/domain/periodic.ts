/**
 * Runs `task` every `intervalMs()` (read each time, so a config reload applies), never two
 * runs at once: the next run is scheduled when the previous one has finished.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  /** The run under way, if any. */
  private running: Promise<void> | undefined;

  constructor(
    private readonly intervalMs: () => number,
    private readonly task: () => Promise<void>,
  ) {}

  start(): void {
    const tick = () => {
      this.timer = setTimeout(async () => {
        await this.runOnce();
        if (this.timer) tick();
      }, this.intervalMs());
    };
    tick();
  }

  /**
   * No run after this one. Resolves when the run under way (if any) has finished: a task can
   * take a while (a dashboard sample walks every active shop) and goes on after the stop.
   */
  stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    return this.running ?? Promise.resolve();
  }

  /** Runs the task now unless a run is already under way. */
  async runOnce(): Promise<void> {
    if (this.running) return;
    const run = this.task().finally(() => {
      this.running = undefined;
    });
    this.running = run;
    await run;
  }
}
