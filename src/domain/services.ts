import type { Router } from './router.ts';
import type { Bots } from './bots/bots.ts';
import type { WaitingRoom } from './bots/waiting-room.ts';
import type { Closer } from './closer.ts';
import type { Recovery } from './recovery.ts';
import type { LocalBuyerLimits } from './buyer-limits.ts';
import type { Uploads } from './uploads.ts';
import type { ContextHook } from './context-hook.ts';

// Apart from deps.ts: every service takes Deps, so Deps naming the services would make each
// of them import itself through deps.ts (a type-only circle, but a circle).
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
