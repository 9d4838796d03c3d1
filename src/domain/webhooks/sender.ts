import { signature } from '../context-hook.ts';

export type SendResult = { ok: true; status: number } | { ok: false; reason: string };

/**
 * One POST of an event body, signed as the contract says. The answer's body is never read
 * (a receiver cannot make us buffer anything), redirects are not followed (a 3xx is a
 * failure), and the whole request is bounded by `timeoutMs`.
 */
export async function sendEvent(url: string, secret: string, eventId: string, body: string, timeoutMs: number, stop: AbortSignal): Promise<SendResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'peakdesk-webhooks/1',
        'x-peakdesk-signature': signature(secret, body),
        'x-peakdesk-event-id': eventId,
      },
      body,
      redirect: 'manual',
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stop]),
    });
    await res.body?.cancel().catch(() => {});
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, reason: `HTTP ${res.status}` };
  } catch (err) {
    const e = err as Error;
    const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : e.name === 'AbortError' ? 'gateway stopping' : (e.cause as Error | undefined)?.message ?? e.message;
    return { ok: false, reason: String(reason).slice(0, 200) };
  }
}
