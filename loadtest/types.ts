/** What the coordinator (cli.ts) and its worker processes (worker.ts) tell each other. */
import { readFileSync } from 'node:fs';
import type { Counters } from './stats.ts';
import type { PlanBuyer, PlanTally } from './plan-run.ts';

export interface RoleLines {
  weight: number;
  first: string[];
  followUps: string[];
  agentReplies: string[];
}

export interface Fixtures {
  roles: Record<string, RoleLines>;
  faqOnly: { weight: number; first: string[] };
  waiting: string[];
  agentGreetings: string[];
  agentClosings: string[];
  transfers: Record<string, { toRole: string; note: string }>;
  ratingComments: string[];
}

export function loadFixtures(): Fixtures {
  return JSON.parse(readFileSync(new URL('./fixtures/questions.json', import.meta.url), 'utf8')) as Fixtures;
}

/** How simulated people behave; times in seconds are medians of log-normal distributions. */
export interface Behaviour {
  /** Buyer lines after an agent answers, at most. */
  messages: number;
  thinkS: number;
  typingS: number;
  handleS: number;
  reconnectRate: number;
  abandonRate: number;
  /** Patience of an abandoning buyer, median seconds in the queue. */
  patienceS: number;
  transferRate: number;
  declineRate: number;
  rateRate: number;
  /** Share of buyers whose token carries `vip` = vipLevel (routing.vipBoostMs per level). */
  vipShare: number;
  vipLevel: number;
  /**
   * Share of buyers who close the page while queued (their session waits offline, behind the
   * online ones) and come back after a median awayS seconds, resuming the same session.
   */
  leaveShare: number;
  awayS: number;
  /** Burst mode: buyers only say hello, wait for the greeting, and hold the connection. */
  greetOnly: boolean;
  /**
   * --plan: the queueing model's assumptions (exponential handle times and patience, see
   * plan-run.ts); an agent closes right after its goodbye.
   */
  plan?: boolean;
}

export interface AgentSpec {
  id: string;
  roles: string[];
  capacity: number;
  /** Mean handle time of this agent's chats (--plan), instead of the behaviour's. */
  handleS?: number;
}

export interface WorkerInit {
  index: number;
  url: string;
  secret: string;
  shop: string;
  /** Arrival times (seconds from start) of this worker's buyers; ids are `${shop}-b${i}`. */
  arrivals: number[];
  agents: AgentSpec[];
  behaviour: Behaviour;
  /** Buyer connections this worker may hold at once. */
  maxConns: number;
  seed: number;
  /** Source addresses on loopback to spread connections over (ephemeral ports per address). */
  localAddresses: string[];
  /** --plan: who each arriving buyer is (same order as `arrivals`). */
  planBuyers?: PlanBuyer[];
}

/** What happened in one second of the run (counts), and the gauges at its end. */
export interface SecondCounts {
  /** Whole seconds since the run's start. */
  sec: number;
  arrivals: number;
  buyerMessages: number;
  agentMessages: number;
  assigned: number;
  closed: number;
  connectedBuyers: number;
  connectedAgents: number;
  waiting: number;
  chatting: number;
}

export interface Tick extends SecondCounts {
  worker: number;
  /** Interval histograms (encoded) of this second. */
  hist: Record<string, string>;
  /** This worker's CPU in the second, in % of one core, and its event-loop utilisation (0..1). */
  cpuPct: number;
  elu: number;
  loopDelayP99Ms: number;
}

export interface WorkerResult {
  worker: number;
  counters: Counters;
  hist: Record<string, string>;
  errors: { buyer: Record<string, number>; agent: Record<string, number> };
  frames: Record<string, number>;
  samples: { kind: string; detail: unknown }[];
  cpu: { userMs: number; systemMs: number; wallMs: number };
  stray: number;
  /** --plan: outcomes of the counted buyers per role. */
  planTally?: Record<string, PlanTally>;
  /** Per role a buyer asked for (time to agent as an encoded histogram). */
  roles: Record<string, { waited: number; reachedAgent: number; abandoned: number; timeToAgent: string }>;
}

export interface SatRequest {
  target: 'gateway' | 'echo' | 'socketio';
  url: string;
  shop: string;
  secret: string;
  pairs: number;
  /** Max messages per second per buyer (the gateway's buyer rate limit is 20/s). */
  rate: number;
  localAddresses: string[];
}

export interface SatResult {
  worker: number;
  target: 'gateway' | 'echo' | 'socketio';
  ready: number;
  delivered: number;
  acked: number;
  measureMs: number;
  hist: string;
  errors: Record<string, number>;
  /** How far the pairs got while being set up (gateway). */
  setup: Record<string, number>;
  cpu: { userMs: number; systemMs: number; wallMs: number };
  elu: number;
}

export type ToWorker =
  | { type: 'init'; init: WorkerInit }
  | { type: 'start'; startAt: number }
  | { type: 'stop'; drainMs: number }
  | { type: 'sat'; sat: SatRequest }
  | { type: 'sat-go'; startAt: number; warmupMs: number; measureMs: number }
  | { type: 'exit' };

export type FromWorker =
  | { type: 'ready'; agents: number; failed: number }
  | { type: 'tick'; tick: Tick }
  | { type: 'finished' }
  | { type: 'result'; result: WorkerResult }
  | { type: 'sat-ready'; ready: number }
  | { type: 'sat-result'; result: SatResult }
  | { type: 'fatal'; message: string };
