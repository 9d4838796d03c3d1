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
  readonly connectionsDropped = new Counter({
    name: 'peakdesk_connections_dropped_total',
    help: 'Connections the server closed for a bound: too_many_unauthenticated (per address), upgrade_timeout, ping_timeout, send_buffer_full',
    labelNames: ['reason'] as const,
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
    labelNames: ['shop', 'from'] as const,
    registers: [this.registry],
  });
  readonly offers = new Counter({
    name: 'peakdesk_offers_total',
    help: 'Offers made and how they ended (accepted, declined, expired)',
    labelNames: ['shop', 'role', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly sessions = new Counter({
    name: 'peakdesk_sessions_opened_total',
    help: 'Sessions that entered a queue for the first time',
    labelNames: ['shop', 'role'] as const,
    registers: [this.registry],
  });
  readonly abandoned = new Counter({
    name: 'peakdesk_sessions_abandoned_total',
    help: 'Queued sessions closed because their buyer stayed offline for sessions.abandonMs',
    labelNames: ['shop', 'role'] as const,
    registers: [this.registry],
  });
  readonly deflected = new Counter({
    name: 'peakdesk_sessions_deflected_total',
    help: 'Sessions of a bot-first role (bots.mode) that ended without ever queuing: resolved by the FAQ bot alone',
    labelNames: ['shop', 'role'] as const,
    registers: [this.registry],
  });
  readonly overflows = new Counter({
    name: 'peakdesk_overflows_total',
    help: 'Offers of a session of one role to an agent of another (routing.overflow)',
    labelNames: ['shop', 'role', 'to'] as const,
    registers: [this.registry],
  });
  readonly sticky = new Counter({
    name: 'peakdesk_sticky_offers_total',
    help: 'Offers of sessions whose buyer had a known agent (routing.sticky): hit = to that agent, miss = to another',
    labelNames: ['shop', 'role', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly botMessages = new Counter({
    name: 'peakdesk_bot_messages_total',
    help: 'Bot lines by kind (reply/proactive) and outcome (sent, or why suppressed: rate, repeat, quiet_hours)',
    labelNames: ['shop', 'kind', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Buckets around the "golden 6 seconds": the share answered within 6 s is le="6" over count. */
  readonly firstResponse = new Histogram({
    name: 'peakdesk_first_response_seconds',
    help: "Time from a buyer's first message to the first bot or agent reply",
    labelNames: ['shop', 'role'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 4, 5, 6, 10, 30, 60, 300],
    registers: [this.registry],
  });
  readonly timeToAgent = new Histogram({
    name: 'peakdesk_time_to_agent_seconds',
    help: "Time from a buyer's first message to the first agent accepting the chat",
    labelNames: ['shop', 'role'] as const,
    buckets: [1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600],
    registers: [this.registry],
  });
  readonly storeSeconds = new Histogram({
    name: 'peakdesk_store_seconds',
    help: 'Latency of store operations as the gateway sees them (Redis round trip and script)',
    labelNames: ['op'] as const,
    buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'peakdesk_queue_depth',
    help: 'Sessions waiting per shop and role (read from the store at scrape time)',
    labelNames: ['shop', 'role'] as const,
    registers: [this.registry],
    collect: () => this.collectQueues(),
  });
  readonly queueWaiting = new Gauge({
    name: 'peakdesk_queue_waiting',
    help: 'Sessions waiting per shop and role by their buyer\'s presence (online, offline)',
    labelNames: ['shop', 'role', 'buyer'] as const,
    registers: [this.registry],
    collect: () => this.collectQueues(),
  });
  // The queue gauges come from one read per scrape (the registry collects them concurrently).
  readonly queueOldestWait = new Gauge({
    name: 'peakdesk_queue_oldest_wait_seconds',
    help: 'How long the session at the head of each queue has waited',
    labelNames: ['shop', 'role'] as const,
    registers: [this.registry],
    collect: () => this.collectQueues(),
  });
  private queueRead: Promise<void> | undefined;
  private queueSource: (() => Promise<{ shop: string; role: string; depth: number; offline: number; oldestWaitSeconds: number | null }[]>) | undefined;
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
  readonly contextHook = new Counter({
    name: 'peakdesk_context_hook_total',
    help: "Calls of the shop's context hook, by outcome (ok, timeout, error, malformed)",
    labelNames: ['shop', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookDeliveries = new Counter({
    name: 'peakdesk_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered (2xx), retried (failed, tried again later), parked (failed for retryForMs: dead letter), deferred (endpoint queue full), dropped (subscriber gone from the config)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly webhookLatency = new Histogram({
    name: 'peakdesk_webhook_delivery_seconds',
    help: "Time from an event's state change to its receiver's 2xx (retries included)",
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
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

  /** Where the queue gauges read from at scrape time. */
  setQueueSource(fn: () => Promise<{ shop: string; role: string; depth: number; offline: number; oldestWaitSeconds: number | null }[]>): void {
    this.queueSource = fn;
  }

  private collectQueues(): Promise<void> {
    this.queueRead ??= this.readQueues().finally(() => (this.queueRead = undefined));
    return this.queueRead;
  }

  private async readQueues(): Promise<void> {
    if (!this.queueSource) return;
    this.queueDepth.reset();
    this.queueOldestWait.reset();
    this.queueWaiting.reset();
    try {
      for (const q of await this.queueSource()) {
        this.queueDepth.set({ shop: q.shop, role: q.role }, q.depth);
        this.queueOldestWait.set({ shop: q.shop, role: q.role }, q.oldestWaitSeconds ?? 0);
        this.queueWaiting.set({ shop: q.shop, role: q.role, buyer: 'online' }, q.depth - q.offline);
        this.queueWaiting.set({ shop: q.shop, role: q.role, buyer: 'offline' }, q.offline);
      }
    } catch {
      // The store is down: the scrape shows no queues rather than failing (readyz tells why).
    }
  }
}
