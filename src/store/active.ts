/**
 * The index of active shops (both stores keep it the same way). Every store step of a shop
 * marks it due now; a sweep of the shop moves it to the time its next timer falls due, or
 * drops it when nothing is pending, so the sweeper and the scrape-time queue metrics cost
 * O(shops with something going on), never O(shops ever seen).
 *
 * A shop marked within the last ACTIVE_HOLD_MS is left due rather than moved: a step marked
 * it and may not have written yet when the sweep read the shop. Marks are written at most
 * every MARK_EVERY_MS per shop and instance, which must stay well below ACTIVE_HOLD_MS.
 */
export const ACTIVE_HOLD_MS = 5_000;
export const MARK_EVERY_MS = 1_000;
/** A shop with only far-off timers is still looked at this often (a config change may bring them closer). */
export const MAX_DEFER_MS = 10 * 60_000;
/** Shops swept per sweep at most; the rest stay due for the next one. */
export const SHOPS_PER_SWEEP = 500;
