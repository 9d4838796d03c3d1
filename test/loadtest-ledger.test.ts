import { describe, expect, it } from 'vitest';
import { Ledger } from '../loadtest/ledger.ts';
import { newCounters } from '../loadtest/stats.ts';

const quiet = { buyerToAgent() {}, agentToBuyer() {} };

describe('load tool ledger: agent lines at the end of a run', () => {
  it('counts a line on its way to a buyer who is there as in flight, and as lost if it never lands', () => {
    const l = new Ledger(quiet);
    l.buyerJoined('s1');
    l.assigned('s1', 'a1', [{ seq: 1 }]);
    l.agentAck('s1', 'a1', 2, 0);
    l.agentAck('s1', 'a1', 3, 0);
    l.buyerReceived('s1', 2, 'agent', 1, false);
    // A comeback's replay of seq 3 is still on its way: the drain waits for it.
    expect(l.agentLinesInFlight()).toBe(1);
    const c = newCounters();
    l.check(c, () => {});
    expect(c.agentMessagesLost).toBe(1);
    expect(c.agentMessagesReceivedByBuyers).toBe(1);
  });

  it('does not wait for, or count as lost, lines to a buyer who left', () => {
    const l = new Ledger(quiet);
    l.buyerJoined('s1');
    l.assigned('s1', 'a1', []);
    l.agentAck('s1', 'a1', 2, 0);
    l.buyerGone('s1');
    expect(l.agentLinesInFlight()).toBe(0);
    const c = newCounters();
    l.check(c, () => {});
    expect(c.agentMessagesLost).toBe(0);
    expect(c.agentMessagesToAbsentBuyers).toBe(1);
  });

  it('stops waiting once the replay lands', () => {
    const l = new Ledger(quiet);
    l.buyerJoined('s1');
    l.assigned('s1', 'a1', []);
    l.agentAck('s1', 'a1', 2, 0);
    l.agentAck('s1', 'a1', 4, 0);
    expect(l.agentLinesMissing('s1', 3)).toBe(true);
    l.buyerReceived('s1', 2, 'agent', 5, true);
    expect(l.agentLinesMissing('s1', 3)).toBe(false); // 4 is past the replay
    expect(l.agentLinesInFlight()).toBe(1);
    l.buyerReceived('s1', 4, 'agent', 6, false);
    expect(l.agentLinesInFlight()).toBe(0);
  });

  it('counts no loss in a session no buyer of the run was welcomed into', () => {
    // The buyer's line reached the gateway as it left; the session it opened went to an agent.
    const l = new Ledger(quiet);
    l.assigned('s2', 'a1', [{ seq: 1 }]);
    l.agentAck('s2', 'a1', 3, 0);
    expect(l.agentLinesInFlight()).toBe(0);
    const c = newCounters();
    l.check(c, () => {});
    expect(c.agentMessagesLost).toBe(0);
    expect(c.agentMessagesToAbsentBuyers).toBe(1);
  });
});
