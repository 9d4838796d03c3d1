import { z } from 'zod';

/** The shop's context hook (v1.1 "Webhooks and the context hook"), global or under `shops.<id>`. */
export const contextSchema = z
  .object({
    url: z.string().url(),
    /** HMAC-SHA256 key of `X-Peakdesk-Signature`. */
    secret: z.string().min(16, 'must be at least 16 characters'),
    /** The hook's answer is waited for this long, then the session goes on without it. */
    timeoutMs: z.number().int().min(50).max(10_000).default(800),
    /** An answer (or a failure) stands for the same buyer this long. */
    cacheMs: z.number().int().min(0).max(86_400_000).default(300_000),
  })
  .strict();
export type ContextConfig = z.infer<typeof contextSchema>;
