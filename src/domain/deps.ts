import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Store } from '../store/types.ts';
import type { FileStore } from '../store/files/file-store.ts';
import type { Classifier } from './classifier.ts';
import type { Hub } from './hub.ts';
import type { Moderator } from './moderation/moderator.ts';

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
