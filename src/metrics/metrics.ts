import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The gateway's Prometheus metrics; one registry per gateway so tests can run several. */
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'peakdesk_connections',
    help: 'Open WebSocket connections on this instance',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly framesIn = new Counter({
    name: 'peakdesk_frames_in_total',
    help: 'Frames received from clients',
    labelNames: ['kind', 'type'] as const,
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'peakdesk_errors_total',
    help: 'Error frames sent to clients, by code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly events = new Counter({
    name: 'peakdesk_transcript_events_total',
    help: 'Transcript events stored, by sender',
    labelNames: ['from'] as const,
    registers: [this.registry],
  });
  readonly offers = new Counter({
    name: 'peakdesk_offers_total',
    help: 'Offers made and how they ended',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly sessions = new Counter({
    name: 'peakdesk_sessions_total',
    help: 'Sessions queued and closed',
    labelNames: ['event'] as const,
    registers: [this.registry],
  });
  readonly botMessages = new Counter({
    name: 'peakdesk_bot_messages_total',
    help: 'Bot lines by kind (reply/proactive) and outcome (sent, or why suppressed: rate, repeat, quiet_hours)',
    labelNames: ['kind', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Buckets around the "golden 6 seconds": the share answered within 6 s is le="6" over count. */
  readonly firstResponse = new Histogram({
    name: 'peakdesk_first_response_seconds',
    help: "Time from a buyer's first message to the first bot or agent reply",
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly transfers = new Counter({
    name: 'peakdesk_transfers_total',
    help: 'Sessions handed from one role to another',
    labelNames: ['shop', 'from_role', 'to_role'] as const,
    registers: [this.registry],
  });
  readonly closes = new Counter({
    name: 'peakdesk_sessions_closed_total',
    help: 'Sessions closed, by reason (agent_closed, blocked, idle, …)',
    labelNames: ['shop', 'reason'] as const,
    registers: [this.registry],
  });
  readonly ratings = new Counter({
    name: 'peakdesk_ratings_total',
    help: 'Ratings buyers gave, by score',
    labelNames: ['shop', 'role', 'score'] as const,
    registers: [this.registry],
  });
  /** The share answered within the reply window is le="300" over count (5 minutes by default). */
  readonly replySeconds = new Histogram({
    name: 'peakdesk_agent_reply_seconds',
    help: "Time from a buyer line (or the assignment) to the agent's answer",
    labelNames: ['shop', 'role'] as const,
    buckets: [5, 15, 30, 60, 120, 180, 240, 300, 600, 1800],
    registers: [this.registry],
  });
  readonly replyMisses = new Counter({
    name: 'peakdesk_agent_reply_misses_total',
    help: 'Buyers left waiting past the reply window, by escalation',
    labelNames: ['shop', 'role', 'escalation'] as const,
    registers: [this.registry],
  });
  readonly moderation = new Counter({
    name: 'peakdesk_moderation_total',
    help: 'Agent messages that hit a sensitive-word list, by policy',
    labelNames: ['policy'] as const,
    registers: [this.registry],
  });
  readonly frameSeconds = new Histogram({
    name: 'peakdesk_frame_handling_seconds',
    help: 'Time from receiving a client frame to finishing it (store round trips included)',
    labelNames: ['kind', 'type'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'peakdesk_' });
  }
}
