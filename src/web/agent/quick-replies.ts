/**
 * Canned phrases per role. The defaults below are shown until the gateway offers its own:
 * a `quickReplies` map in the agent `welcome` frame, or from `GET /v1/agent/config`
 * (`{ quickReplies: { [role]: string[] } }`, bearer token). Neither exists yet; both are
 * optional, and whatever role they name replaces that role's defaults.
 */

const COMMON = ['还有其他可以帮您的吗？', '感谢您的耐心等待～'];

const DEFAULTS: Record<string, string[]> = {
  'pre-sale': ['亲，在的，请问有什么可以帮您？', '这款现货充足，今天下单48小时内发货。', '双11活动价已经是全年最低，还可以叠加店铺券哦。'],
  'order-edit': ['亲，请提供一下订单号，我来帮您修改。', '地址已经帮您改好了，请在订单详情里确认一下。', '订单还没有发货，可以帮您换规格。'],
  'after-sale': ['很抱歉给您带来不便，麻烦提供一下订单号和问题照片。', '退货申请已通过，请在7天内寄回。', '退款会在1-3个工作日内原路退回。'],
  bargaining: ['亲，这已经是活动最低价了哦。', '可以给您申请一张5元无门槛券。', '满两件再享9折优惠。'],
};

let fromServer: Record<string, string[]> = {};

export function quickRepliesFor(role: string): string[] {
  return [...(fromServer[role] ?? DEFAULTS[role] ?? []), ...COMMON];
}

/** Takes whatever well-formed lists `raw` has; returns whether anything changed. */
export function setQuickReplies(raw: unknown): boolean {
  if (!raw || typeof raw !== 'object') return false;
  let changed = false;
  for (const [role, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    const phrases = list.filter((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 2000);
    fromServer = { ...fromServer, [role]: phrases };
    changed = true;
  }
  return changed;
}

/** Asks the (future) endpoint; any failure, 404 included, leaves the defaults. */
export async function fetchQuickReplies(token: string): Promise<boolean> {
  try {
    const res = await fetch('/v1/agent/config', { headers: { authorization: `Bearer ${token}` } });
    if (!res.ok) return false;
    const body = (await res.json()) as { quickReplies?: unknown };
    return setQuickReplies(body.quickReplies);
  } catch {
    return false;
  }
}
