/**
 * Runs `task` every `intervalMs()` (read each time, so a config reload applies), never two
 * runs at once: the next run is scheduled when the previous one has finished.
 */
export class Periodic {
  private timer: NodeJS.Timeout | undefined;
  private running = false;

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

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Runs the task now unless a run is already under way. */
  async runOnce(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.task();
    } finally {
      this.running = false;
    }
  }
}
