import type { ShopConfig } from '../../config/shop-config.ts';
import { inWindow } from './quiet-hours.ts';

/**
 * Whether agents answer `role` now (bots.businessHours, in the shop's time zone, the same
 * clock as quiet hours). A role without hours is always open. The one rule routing, the
 * waiting room and the bot consult.
 */
export function roleOpen(sc: ShopConfig, role: string, now: number): boolean {
  const hours = Object.hasOwn(sc.bots.businessHours, role) ? sc.bots.businessHours[role] : undefined;
  return !hours || inWindow(now, hours, sc.bots.timezone);
}

/** The role's hours as buyers read them (`{hours}` in bots.texts.outsideHours). */
export function hoursText(sc: ShopConfig, role: string): string {
  const h = sc.bots.businessHours[role];
  return h ? `${h.from}–${h.to}` : '';
}
