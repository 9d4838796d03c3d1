/** Exit codes of the gateway process (README, "Exit codes"). */
export const EXIT = {
  /** Stopped by SIGTERM/SIGINT after a graceful shutdown. */
  ok: 0,
  /** Anything unexpected at start-up or shutdown (the log says what). */
  failed: 1,
  /** The port cannot be bound: in use, not permitted, or HOST is not an address of this machine (EX_UNAVAILABLE). */
  unavailable: 69,
  /** Invalid environment variable or config file; nothing was started (EX_CONFIG). */
  config: 78,
} as const;
