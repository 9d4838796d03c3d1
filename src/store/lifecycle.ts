/**
 * The session lifecycle, in one table:
 *
 *   bot → queued → offered → assigned → closing → closed
 *           ↑________|__________|  (decline, expiry, transfer, requeue)
 *
 * The store's Lua scripts enforce it: the table is rendered into their prelude
 * (src/store/redis/scripts.ts), on Redis and on the embedded engine alike.
 */
export const SESSION_STATES = ['bot', 'queued', 'offered', 'assigned', 'closing', 'closed'] as const;
export type SessionState = (typeof SESSION_STATES)[number];

type Moves = Partial<Record<SessionState, SessionState>>;
const OPEN: SessionState[] = ['bot', 'queued', 'offered', 'assigned'];
const stay = (states: SessionState[]): Moves => Object.fromEntries(states.map((s) => [s, s]));

export const LIFECYCLE = {
  /** A buyer message; a `bot` session may enter the queue with it (see `enqueue`). */
  buyerMessage: stay(OPEN),
  enqueue: { bot: 'queued' },
  /** Bot lines keep coming while the rating invite is open. */
  botMessage: stay([...OPEN, 'closing']),
  offer: { queued: 'offered' },
  accept: { offered: 'assigned' },
  /** Decline, offer expiry. */
  release: { offered: 'queued' },
  /** An agent left for good, or missed the reply window and the session is offered again. */
  requeue: { offered: 'queued', assigned: 'queued' },
  agentMessage: { assigned: 'assigned' },
  transfer: { assigned: 'queued' },
  /** Ops move a waiting or served session to another role. */
  forceTransfer: { queued: 'queued', offered: 'queued', assigned: 'queued' },
  /** The agent ends the chat: the buyer gets the rating invite. */
  close: { assigned: 'closing' },
  block: { assigned: 'closed' },
  /** The rating window ends (rated, or time is up): goodbye. */
  finish: { closing: 'closed' },
  rate: { closing: 'closing' },
  /** The system ends a chat (idle, ops): from any state that is not over yet. */
  end: { bot: 'closed', queued: 'closed', offered: 'closed', assigned: 'closed', closing: 'closed' },
} as const satisfies Record<string, Moves>;
export type Action = keyof typeof LIFECYCLE;

/** Actions only the agent holding the session may take; anyone else gets `not_assigned`. */
export const AGENT_ACTIONS: readonly Action[] = ['agentMessage', 'transfer', 'close', 'block'];

/** States in which a chat with the agent is over for good or winding down. */
const ENDED: readonly SessionState[] = ['closing', 'closed'];

/** The table as Lua source, for the scripts' prelude. */
export function lifecycleLua(): string {
  const table = Object.entries(LIFECYCLE)
    .map(([action, moves]) => `  ['${action}'] = { ${Object.entries(moves).map(([from, to]) => `['${from}'] = '${to}'`).join(', ')} },`)
    .join('\n');
  const flags = AGENT_ACTIONS.map((a) => `['${a}'] = true`).join(', ');
  const ended = ENDED.map((s) => `['${s}'] = true`).join(', ');
  return `local LIFECYCLE = {\n${table}\n}\nlocal AGENT_ACTIONS = { ${flags} }\nlocal ENDED = { ${ended} }\n`;
}
