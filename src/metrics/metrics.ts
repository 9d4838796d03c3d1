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
