/** The buyer widget's state module, without a browser: what each frame does to its one chat. */
import { describe, expect, it } from 'vitest';
import type { BuyerServerFrame } from '../src/client/frames.ts';
import { apply, initialState, restore, status, toSaved } from '../src/web/buyer/state.ts';

const welcome = (sessionId: string, extra: object = {}) => ({ type: 'welcome', sessionId, lastSeq: 0, ...extra }) as BuyerServerFrame;
const msg = (sessionId: string, seq: number, from: 'buyer' | 'agent' | 'bot', extra: object = {}) =>
  ({ type: 'message', sessionId, seq, from, text: `line ${seq}`, ts: 1000 + seq, ...extra }) as BuyerServerFrame;

describe('buyer widget state', () => {
  it('follows a chat from the queue to an agent, a handover and the end, ignoring other sessions and replays', () => {
    const s = initialState();
    expect(apply(s, welcome('s1', { roleNames: { 'pre-sale': '售前咨询', 'after-sale': '售后服务' }, shopName: '示例旗舰店' }))).toEqual([{ kind: 'new_session' }]);
    expect(status(s)).toEqual({ key: 'buyer.status.ask' });
    s.pending.push({ clientMsgId: 'c1', text: '在吗', ts: 5 });
    apply(s, { type: 'ack', clientMsgId: 'c1', seq: 1 } as BuyerServerFrame);
    expect(s.pending).toEqual([]);
    expect(s.events.get(1)).toMatchObject({ from: 'buyer', text: '在吗' });
    apply(s, { type: 'queue', sessionId: 's1', role: 'pre-sale', position: 3, etaSeconds: 40 } as BuyerServerFrame);
    expect(s.queue).toEqual({ role: 'pre-sale', position: 3, etaSeconds: 40 });
    expect(status(s)).toEqual({ key: 'buyer.status.waiting' });
    // Another session's frames and a replayed seq change nothing.
    apply(s, { type: 'queue', sessionId: 'old', role: 'after-sale', position: 1 } as BuyerServerFrame);
    apply(s, msg('old', 2, 'agent'));
    expect(s.queue?.role).toBe('pre-sale');
    apply(s, msg('s1', 2, 'agent', { role: 'pre-sale' }));
    apply(s, msg('s1', 2, 'agent', { text: 'replayed' }));
    expect(s.events.get(2)!.text).toBe('line 2');
    expect(s.queue).toBeUndefined();
    expect(status(s)).toEqual({ key: 'buyer.status.agent', role: '售前咨询' });
    apply(s, { type: 'handover', sessionId: 's1', fromRole: 'pre-sale', toRole: 'after-sale' } as BuyerServerFrame);
    expect(s.notices).toMatchObject([{ kind: 'handover', fromRole: 'pre-sale', toRole: 'after-sale', afterSeq: 2 }]);
    expect(s.agentRole).toBeUndefined();
    apply(s, msg('s1', 3, 'bot', { kind: 'rating_invite' }));
    expect(s.ratingInvited).toBe(true);
    apply(s, { type: 'closed', sessionId: 's1', reason: 'blocked' } as BuyerServerFrame);
    expect(s.notices[1]).toMatchObject({ kind: 'closed', blocked: true, afterSeq: 3 });
    expect(status(s)).toEqual({ key: 'buyer.status.ended' });
  });

  it('starts a clean transcript for a new session, keeping unsent lines and the role names', () => {
    const s = initialState();
    apply(s, welcome('s1', { roleNames: { 'pre-sale': '售前咨询' } }));
    apply(s, msg('s1', 1, 'bot', { kind: 'rating_invite' }));
    apply(s, { type: 'closed', sessionId: 's1', reason: 'agent_closed' } as BuyerServerFrame);
    s.rated = 5;
    s.pending.push({ clientMsgId: 'c9', text: '还有一个问题', ts: 9 });
    expect(apply(s, welcome('s1'))).toEqual([]); // a resume of the same session
    expect(s.events.size).toBe(1);
    expect(apply(s, welcome('s2'))).toEqual([{ kind: 'new_session' }]);
    expect(s).toMatchObject({ sessionId: 's2', notices: [], pending: [{ clientMsgId: 'c9' }], roleNames: { 'pre-sale': '售前咨询' } });
    expect(s.events.size).toBe(0);
    for (const k of ['closed', 'rated', 'ratingInvited', 'queue', 'agentRole'] as const) expect(s[k]).toBeUndefined();
  });

  it('survives sessionStorage: saved and restored to the same state', () => {
    const s = initialState();
    apply(s, welcome('s1'));
    apply(s, msg('s1', 1, 'agent'));
    apply(s, { type: 'handover', sessionId: 's1', fromRole: 'pre-sale', toRole: 'after-sale' } as BuyerServerFrame);
    const back = restore(JSON.parse(JSON.stringify(toSaved(s))));
    expect(back.events.get(1)).toEqual(s.events.get(1));
    expect(back.notices).toEqual(s.notices);
    expect(back.sessionId).toBe('s1');
  });
});
