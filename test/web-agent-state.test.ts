/** The workbench's state module, without a browser: what each frame does to the chats and offers. */
import { describe, expect, it } from 'vitest';
import { apply, buyerLabel, chatOrder, initialState, maySend, nextUnread, urgency, wantHistory, type AgentFrame } from '../src/web/agent/state.ts';

const ctx = (now: number, visible = true) => ({ now, visible });
const msg = (sessionId: string, seq: number, from: 'buyer' | 'agent' | 'bot', ts: number, text = 'x'): AgentFrame => ({ type: 'message', sessionId, seq, from, text, ts });
const assigned = (sessionId: string, transcript: AgentFrame[] = [], extra: object = {}): AgentFrame =>
  ({ type: 'assigned', sessionId, role: 'pre-sale', transcript, ...extra }) as AgentFrame;

describe('agent state', () => {
  it('orders chats by how long the buyer has waited for a reply, longest first', () => {
    const s = initialState();
    apply(s, assigned('a', [msg('a', 1, 'buyer', 3000)]), ctx(5000));
    apply(s, assigned('b', [msg('b', 1, 'buyer', 1000)]), ctx(5000));
    apply(s, assigned('c', [msg('c', 1, 'buyer', 500), msg('c', 2, 'agent', 600)]), ctx(5000));
    apply(s, assigned('d', [msg('d', 1, 'buyer', 2000)]), ctx(5000));
    expect(chatOrder(s).map((c) => c.id)).toEqual(['b', 'd', 'a', 'c']);
    // The agent answers b: b no longer waits; the buyer of c writes again: c waits from then.
    apply(s, msg('b', 2, 'agent', 6000), ctx(6000));
    apply(s, msg('c', 3, 'buyer', 6500), ctx(6500));
    expect(chatOrder(s).map((c) => c.id)).toEqual(['d', 'a', 'c', 'b']);
    // A bot line is no reply; a second buyer line does not restart the clock.
    apply(s, msg('d', 2, 'bot', 7000), ctx(7000));
    apply(s, msg('d', 3, 'buyer', 7100), ctx(7100));
    expect(s.chats.get('d')!.waitingSince).toBe(2000);
    apply(s, { type: 'session_closed', sessionId: 'd', reason: 'agent_closed' }, ctx(8000));
    expect(chatOrder(s).map((c) => c.id)).toEqual(['a', 'c', 'b', 'd']);
  });

  it('counts unread lines for chats not in front, and for the open chat while the page is hidden', () => {
    const s = initialState();
    apply(s, assigned('a'), ctx(0));
    apply(s, assigned('b'), ctx(0));
    expect(s.active).toBe('a');
    apply(s, msg('b', 1, 'buyer', 1), ctx(1));
    apply(s, msg('b', 1, 'buyer', 1), ctx(1)); // replayed
    apply(s, msg('a', 1, 'buyer', 1), ctx(1));
    apply(s, msg('a', 2, 'buyer', 2), ctx(2, false));
    expect(s.chats.get('b')!.unread).toBe(2); // 1 from being assigned behind, 1 message
    expect(s.chats.get('a')!.unread).toBe(1);
    expect(nextUnread(s)).toBe('b');
  });

  it('keeps the buyer of offer/assigned and follows buyer_status and history', () => {
    const s = initialState();
    const fx = apply(s, { type: 'offer', sessionId: 'a', role: 'pre-sale', expiresAt: 9, preview: [], buyer: { id: 'buyer-123456789', vip: 2, online: true } } as AgentFrame, ctx(0));
    expect(fx.map((e) => e.kind)).toEqual(['offer']);
    expect(apply(s, { type: 'offer', sessionId: 'a', role: 'pre-sale', expiresAt: 9, preview: [] } as AgentFrame, ctx(0))).toEqual([]); // resent: no second ring
    apply(s, assigned('a'), ctx(1));
    const chat = s.chats.get('a')!;
    expect(s.offers.size).toBe(0);
    expect(chat.buyer?.vip).toBe(2);
    expect(buyerLabel(chat)).toBe('…456789');
    apply(s, { type: 'buyer_status', sessionId: 'a', online: false, since: 5 }, ctx(5));
    expect(chat.buyer?.online).toBe(false);
    apply(s, assigned('a', [], { buyer: { id: 'buyer-123456789', name: '张三', vip: 2, online: true, tags: ['老客'] } }), ctx(6));
    expect(buyerLabel(chat)).toBe('张三');
    const old = { sessionId: 'old', state: 'closed', role: 'pre-sale', roleHistory: ['pre-sale'], agents: ['x'], createdAt: 1, closedReason: 'agent_closed', rating: 5, events: 2 };
    apply(s, { type: 'history', sessionId: 'a', buyerId: 'buyer-123456789', sessions: [old] }, ctx(7));
    expect(chat.history?.[0]?.sessionId).toBe('old');
    // Its transcript, asked from the buyer panel, is kept for the chat it was opened from.
    const line = { type: 'message' as const, sessionId: 'old', seq: 1, from: 'buyer' as const, text: '', ts: 1, attachments: [{ id: 'f1', contentType: 'image/png' as const, size: 9, url: '/v1/uploads/f1' }] };
    apply(s, { type: 'history_transcript', sessionId: 'a', pastSessionId: 'old', session: old, transcript: [line] }, ctx(8));
    expect(s.past).toMatchObject({ chatId: 'a', session: { sessionId: 'old' }, events: [{ seq: 1, attachments: [{ id: 'f1', url: '/v1/uploads/f1' }] }] });
  });

  it('marks a line refused for a blocked word as not retryable unchanged', () => {
    const s = initialState();
    apply(s, assigned('a'), ctx(0));
    s.chats.get('a')!.pending.push({ clientMsgId: 'm1', text: 'bad', ts: 0 });
    apply(s, { type: 'error', code: 'forbidden', message: 'message contains "bad"', ref: 'm1' }, ctx(1));
    expect(s.chats.get('a')!.pending[0]).toMatchObject({ failed: 'message contains "bad"', code: 'forbidden' });
    // Edited back into the box, the same text may not go again; a changed one may.
    expect(maySend(s.chats.get('a')!, 'bad')).toBe(false);
    expect(maySend(s.chats.get('a')!, 'b-a-d')).toBe(true);
    // A retryable refusal leaves it pending: the client sends it again.
    s.chats.get('a')!.pending.push({ clientMsgId: 'm2', text: 'ok', ts: 0 });
    apply(s, { type: 'error', code: 'unavailable', message: 'down', ref: 'm2' }, ctx(1));
    expect(s.chats.get('a')!.pending[1]!.failed).toBeUndefined();
  });

  it('takes role names and the shop name from the welcome, and closes chats no longer held', () => {
    const s = initialState();
    apply(s, assigned('a'), ctx(0));
    apply(s, { type: 'welcome', agentId: 'x', sessions: [], roleNames: { 'pre-sale': '售前' }, shopName: '示例旗舰店' } as AgentFrame, ctx(1));
    expect(s.roleNames['pre-sale']).toBe('售前');
    expect(s.shopName).toBe('示例旗舰店');
    expect(s.chats.get('a')!.closed).toBe('gone');
  });

  it('turns the reply timer amber at half the window and red at 80 %', () => {
    expect([0, 149_999, 150_000, 239_999, 240_000].map((ms) => urgency(ms))).toEqual(['ok', 'ok', 'amber', 'amber', 'red']);
  });

  it('asks for history once per chat, and never again after a server refused the frame', () => {
    const s = initialState();
    apply(s, assigned('a'), ctx(0));
    apply(s, assigned('b'), ctx(0));
    expect(wantHistory(s, 'a')).toBe(true);
    expect(wantHistory(s, 'a')).toBe(false);
    // A server before v1.1 answers bad_frame with the sessionId as ref: no notice, no second ask.
    expect(apply(s, { type: 'error', code: 'bad_frame', message: 'type: Invalid input', ref: 'a' }, ctx(1))).toEqual([]);
    expect(wantHistory(s, 'b')).toBe(false);
  });
});
