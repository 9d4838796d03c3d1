import { z } from 'zod';

/** The events a webhook may subscribe to (v1.1 "Webhooks and the context hook"). */
export const WEBHOOK_EVENTS = [
  'session.opened',
  'session.queued',
  'session.assigned',
  'session.transferred',
  'session.closed',
  'session.rated',
  'buyer.blocked',
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** One subscriber: global (`webhooks`) or a shop's (`shops.<id>.webhooks`); a shop gets both. */
export const webhookSchema = z
  .object({
    url: z.string().url().max(2_000),
    /** HMAC-SHA256 key of `X-Peakdesk-Signature`. */
    secret: z.string().min(16, 'must be at least 16 characters'),
    events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length),
  })
  .strict();
export type WebhookConfig = z.infer<typeof webhookSchema>;

export const webhooksSchema = z.array(webhookSchema).max(20);

/** How events are delivered (every instance delivers; the outbox is in the store). */
export const webhookDeliverySchema = z
  .object({
    /** A delivery not answered with a 2xx within this long is a failed attempt. */
    timeoutMs: z.number().int().min(100).max(60_000).default(5_000),
    /** Deliveries in flight at once per endpoint (URL origin) and instance, so one slow endpoint cannot hold up the others. */
    perEndpoint: z.number().int().min(1).max(256).default(32),
    /** Deliveries waiting per endpoint and instance; beyond that they wait in the store's retry set. */
    queuePerEndpoint: z.number().int().min(1).max(100_000).default(256),
    /** The first retry comes after about this long, each next one twice as late (with jitter), at most backoffMaxMs. */
    backoffBaseMs: z.number().int().min(1).max(3_600_000).default(2_000),
    backoffMaxMs: z.number().int().min(1).max(86_400_000).default(600_000),
    /** A delivery failing this long after its first attempt is parked in the dead-letter stream. */
    retryForMs: z.number().int().min(1).max(7 * 86_400_000).default(3_600_000),
    /** Outbox entries another instance read and left this long (it died) are taken over. */
    claimIdleMs: z.number().int().min(100).max(3_600_000).default(30_000),
    /** How often each instance looks for shops with webhook work (an instance reads a shop's outbox right after its own steps anyway). */
    pollIntervalMs: z.number().int().min(10).max(60_000).default(500),
    /** Dead letters kept per shop (the oldest go first). */
    deadLetterMax: z.number().int().min(10).max(1_000_000).default(10_000),
  })
  .strict();
