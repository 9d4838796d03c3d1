import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../store/types.ts';
import type { FileStore } from '../store/files/file-store.ts';
import type { Classifier } from './classifier.ts';
import type { Hub } from './hub.ts';
import type { Moderator } from './moderation/moderator.ts';
import type { Router } from './router.ts';
import type { Bots } from './bots/bots.ts';
import type { WaitingRoom } from './bots/waiting-room.ts';
import type { Closer } from './closer.ts';
import type { Recovery } from './recovery.ts';
import type { LocalBuyerLimits } from './buyer-limits.ts';
import type { Uploads } from './uploads.ts';
import type { ContextHook } from './context-hook.ts';

/** What the domain needs from the outside world; injected so tests can drive the clock. */
export interface Deps {
  store: Store;
  hub: Hub;
  /** The active config; a function so a reload takes effect for the next decision. */
  config: () => Config;
  classifier: Classifier;
  moderator: Moderator;
  /** Uploaded images (POST /v1/uploads) that messages attach. */
  files: FileStore;
  logger: Logger;
  metrics: Metrics;
  now: () => number;
  /** This gateway instance, as its heartbeat and connection records name it. */
  instanceId: string;
}

/** The domain services connections call into. */
export interface Services {
  router: Router;
  bots: Bots;
  waitingRoom: WaitingRoom;
  closer: Closer;
  recovery: Recovery;
  buyerLimits: LocalBuyerLimits;
  uploads: Uploads;
  context: ContextHook;
}
