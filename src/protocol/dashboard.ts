import { z } from 'zod';
import { RECENT_COUNTERS, RECENT_GAUGES } from '../store/recent-stats.ts';

/**
 * What GET /v1/admin/stats/recent answers: the ops dashboard's last minutes per role, one value
 * per bucket of `times`. Here (zod only) so the transport validates with it and the ops page
 * imports its type without the server's modules.
 */
const numbers = z.array(z.number());
const gaps = z.array(z.number().nullable());

export const recentRole = z.object({
  role: z.string(),
  ...(Object.fromEntries(RECENT_COUNTERS.map((c) => [c, numbers])) as Record<(typeof RECENT_COUNTERS)[number], typeof numbers>),
  ...(Object.fromEntries(RECENT_GAUGES.map((g) => [g, gaps])) as Record<(typeof RECENT_GAUGES)[number], typeof gaps>),
  waitP50Ms: gaps.describe('time to agent, median: the upper edge of the histogram bin it falls in (or the largest wait when smaller); null without answers'),
  waitP90Ms: gaps,
});

export const dashboardAlert = z.object({
  role: z.string(),
  kind: z.enum(['oldestWait', 'abandonment']),
  /** Seconds waited (oldestWait) or the share that gave up (abandonment). */
  value: z.number(),
  threshold: z.number(),
});

export const recentResponse = z.object({
  shop: z.string(),
  bucketMs: z.number(),
  from: z.number(),
  to: z.number(),
  times: numbers.describe('bucket starts (epoch ms), oldest first; every series has one value per bucket'),
  roles: z.array(recentRole),
  alerts: z.array(dashboardAlert),
});

export type RecentRole = z.infer<typeof recentRole>;
export type DashboardAlert = z.infer<typeof dashboardAlert>;
export type RecentResponse = z.infer<typeof recentResponse>;
