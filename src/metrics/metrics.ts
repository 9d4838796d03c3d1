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
