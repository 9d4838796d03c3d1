import type { FaqEntry } from './faq.ts';
import { sessionBounds } from '../bounds.ts';
import { botTexts, fillText, resolveShop } from '../../config/shop-config.ts';
import type { BotPostResult } from '../../store/types.ts';
import type { Deps } from '../deps.ts';
import { isQuiet } from './quiet-hours.ts';

/** A reply answers something the buyer just said; anything else is proactive. */
export type BotKind = 'reply' | 'proactive';

/**
 * The waiting-room bot's voice. Every line goes through the store, which enforces the
 * per-minute cap and the no-repeat rule atomically (several instances may speak to one
 * buyer); quiet hours are checked here because they need the shop's clock (and, for
 * proactive lines, whether the buyer is connected).
 */
export class Bots {
  constructor(private readonly d: Deps) {}

  async say(shop: string, sessionId: string, text: string, kind: BotKind, role?: string): Promise<BotPostResult | null> {
    const sc = resolveShop(this.d.config(), shop);
    const now = this.d.now();
    // Quiet hours spare buyers who are not there; a connected buyer (on any instance) in an
    // open chat always hears its queue updates and busy line, midnight peak included.
    if (kind === 'proactive' && isQuiet(now, sc.bots.quietHours, sc.bots.timezone) && !(await this.buyerOnline(shop, sessionId))) {
      this.d.metrics.botMessages.inc({ shop, kind, outcome: 'quiet_hours' });
      return null;
    }
    const r = await this.d.store.postBotMessage(shop, sessionId, {
      text,
      ts: now,
      perMinute: sc.bots.limits.perMinute,
      bounds: sessionBounds(this.d.config()),
      ...(role ? { role } : {}),
    });
    this.d.metrics.botMessages.inc({ shop, kind, outcome: r.suppressed ?? 'sent' });
    if (r.firstResponseMs !== undefined) this.d.metrics.firstResponse.observe({ shop, role: role ?? '' }, r.firstResponseMs / 1000);
    return r;
  }

  private async buyerOnline(shop: string, sessionId: string): Promise<boolean> {
    return (await this.d.store.getSession(shop, sessionId))?.buyerOnline ?? false;
  }

  /**
   * Replies to a buyer message: the greeting (and any running campaign's script) when it
   * opened the conversation, then the FAQ answer it asked for.
   */
  async reply(shop: string, sessionId: string, role: string, opts: { greet: boolean; faq?: FaqEntry | undefined }): Promise<void> {
    const sc = resolveShop(this.d.config(), shop);
    if (opts.greet) {
      await this.say(shop, sessionId, fillText(botTexts(sc, role).greeting, { shop: sc.displayName }), 'reply', role);
      const now = this.d.now();
      for (const c of sc.bots.campaigns) {
        if (Date.parse(c.from) <= now && now < Date.parse(c.to) && (!c.roles || c.roles.includes(role))) {
          await this.say(shop, sessionId, fillText(c.text, { shop: sc.displayName }), 'reply', role);
        }
      }
    }
    if (opts.faq) await this.say(shop, sessionId, fillText(opts.faq.answer, { shop: sc.displayName }), 'reply', role);
  }
}
