/**
 * Wire fuzzing against a live gateway (own redis-server, loopback only).
 *
 * Several fuzz buyers and agents send tens of thousands of random, truncated, oversized,
 * wrongly typed and out-of-state frames while a real buyer and agent hold a normal chat on
 * the same gateway. Expected: no crash, no unhandled rejection, no `internal` error, every
 * server frame valid per the outbound schemas, every bad frame answered with exactly one
 * stable error code, and the real chat unaffected.
 *
 * Reproduce a failure with the seed it prints: `FUZZ_SEED=<n> npx vitest run test/fuzz.test.ts`.
 * (Per-connection frame sequences depend only on the seed; the pools of session ids the
 * generators draw from also depend on timing, so a replay is close, not byte-identical.)
 * `FUZZ_FRAMES=<n>` changes the total number of fuzz frames (default 30,000); `FUZZ_STORE=memory`
 * runs the first test on the embedded store instead of Redis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { z } from 'zod';
import { startRedis, type RedisHandle } from './support/redis-server.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';
import { TestClient, until } from './support/client.ts';
import { agentInbound, buyerInbound } from '../src/protocol/frames.ts';
import { ERROR_CODES } from '../src/protocol/errors.ts';

const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const TOTAL_FRAMES = Number(process.env.FUZZ_FRAMES ?? 30_000);
const BATCH = 30;
const tag = `[fuzz seed=${SEED}; reproduce with FUZZ_SEED=${SEED}]`;

type Frame = Record<string, any> & { type: string };

// ---------------------------------------------------------------------------
// Seeded randomness
// ---------------------------------------------------------------------------

class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** mulberry32 */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  weighted<T extends string>(table: readonly (readonly [T, number])[]): T {
    const total = table.reduce((n, [, w]) => n + w, 0);
    let r = this.next() * total;
    for (const [k, w] of table) if ((r -= w) < 0) return k;
    return table[table.length - 1]![0];
  }
  uuid(): string {
    return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, () => this.int(0, 15).toString(16));
  }
  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(0, 255);
    return b;
  }
  ascii(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(this.int(32, 126));
    return s;
  }
  /** CJK, emoji (surrogate pairs), combining marks, RTL, zero-width, controls, lone surrogates. */
  unicode(units: number): string {
    const pieces = [
      () => String.fromCharCode(this.int(0x4e00, 0x9fff)),
      () => this.pick(['😀', '🛒', '👩‍👩‍👧', '🇨🇳', '❤️', '🔥']),
      () => String.fromCharCode(this.int(0x300, 0x36f)),
      () => this.pick(['\u202e', '\u200b', '\u200d', '\ufeff', '\u2028', '\u2029', '\uffff', '\ufffd']),
      () => String.fromCharCode(this.int(0, 31)),
      () => '\u007f',
      () => this.pick(['\ud800', '\udfff', '\udbff']),
      () => this.pick(['"', '\\', '\'', '<script>', '${x}', '%s', '\\u0000', '{"type":"ping"}']),
      () => this.ascii(this.int(1, 8)),
    ];
    let s = '';
    while (s.length < units) s += this.pick(pieces)();
    return s.slice(0, units);
  }
}

// ---------------------------------------------------------------------------
// What the gateway must answer, predicted with its own rules (size, JSON, schema)
// ---------------------------------------------------------------------------

/** Same rule as the frame loop: the error's ref is the message id, else the session, else the type. */
function refOf(frame: unknown): string | undefined {
  if (!frame || typeof frame !== 'object') return undefined;
  const f = frame as Record<string, unknown>;
  for (const k of ['clientMsgId', 'sessionId', 'type']) if (typeof f[k] === 'string') return (f[k] as string) || undefined; // an empty ref is left out
  return undefined;
}

type Prediction =
  | { kind: 'too_large' }
  | { kind: 'bad_json' }
  | { kind: 'bad_frame'; ref: string | undefined }
  | { kind: 'valid'; frame: Frame };

function predict(payload: Buffer, schema: z.ZodType<unknown>, maxFrameBytes: number): Prediction {
  if (payload.length > maxFrameBytes) return { kind: 'too_large' };
  let raw: unknown;
  try {
    raw = JSON.parse(payload.toString('utf8'));
  } catch {
    return { kind: 'bad_json' };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { kind: 'bad_frame', ref: refOf(raw) };
  return { kind: 'valid', frame: parsed.data as Frame };
}

// ---------------------------------------------------------------------------
// Fuzz connections
// ---------------------------------------------------------------------------

const ROLES = ['pre-sale', 'order-edit', 'after-sale', 'bargaining'];
/**
 * The real chat runs in after-sale (its first line asks for a refund); shop-1 fuzz agents may
 * not serve that role, so the real chat is never offered to them.
 */
const REAL_ROLE = 'after-sale';
const FUZZ_AGENT_CLAIM_ROLES = ['pre-sale', 'order-edit', 'bargaining'];
const NASTY_IDS = [
  '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__',
  '*', '?', '[a-z]', '{shop-1}', '}', '{', 'a:b:c', '../../etc/passwd', ' ', '\u0000', '\n', 'null', 'undefined',
  'NaN', '0', '-1', '😀', '中文会话', 'x'.repeat(128), 'ü'.repeat(64),
];
const KEYWORD_TEXTS = ['退款', '便宜点', '什么时候发货', '改地址', 'refund please', 'too expensive', 'change address', '尺码表', '满减', '你好'];

interface Shared {
  /** Session ids of every fuzz buyer so far (both shops). */
  buyerSessions: string[];
  /** The real chat's session, once known. */
  realSession: string;
}

interface Stats {
  generators: Map<string, number>;
}

class FuzzConn {
  readonly rng: Rng;
  framesSent = 0;
  /** Pings that must be answered: generated ones and the pacing ones. */
  pings = 0;
  pacingPings = 0;
  /** Predicted frame-loop errors. */
  tooLarge = 0;
  badJson = 0;
  loopBadFrameNoRef = 0;
  /** Per ref: predicted frame-loop bad_frame errors, valid message sends, other valid sends. */
  readonly loopBadFrameByRef = new Map<string, number>();
  readonly msgSendsById = new Map<string, number>();
  readonly otherValidByRef = new Map<string, number>();
  /** Domain-level bad_frame (unknown role in ready / transfer), predicted from the config. */
  domainBadFrame = 0;
  /** Valid frames whose error would carry no ref (an empty session id: the schema allows none, so 0). */
  otherValidNoRef = 0;
  validFrames = 0;
  readonly validByType = new Map<string, number>();
  /** Ids of this connection's valid messages, for duplicates. */
  readonly myMsgIds: string[] = [];
  /** The last frames sent, for diagnostics. */
  readonly recent: string[] = [];
  private seen = 0;
  private pongs = 0;
  private gotTooLarge = 0;
  private gotBadJson = 0;
  readonly offered = new Set<string>();
  readonly assigned = new Set<string>();
  /** Offers not yet taken or revoked, and sessions held now: where a busy agent acts. */
  private readonly liveOffers = new Set<string>();
  private readonly holding = new Set<string>();
  /** A buyer whose chat an agent closed: rating it (or talking on) ends it, and the next line opens a new one. */
  private invited = false;
  private readonly released = new Set<string>();
  private release(sessionId: string): void {
    this.holding.delete(sessionId);
    this.released.add(sessionId);
  }
  readonly welcomes = new Set<string>();
  private msgCounter = 0;

  constructor(
    readonly name: string,
    readonly kind: 'buyer' | 'agent',
    readonly shop: string,
    readonly client: TestClient,
    seed: number,
    private readonly shared: Shared,
    private readonly stats: Stats,
    private readonly maxFrameBytes: number,
  ) {
    this.rng = new Rng(seed);
  }

  get schema(): z.ZodType<unknown> {
    return this.kind === 'buyer' ? buyerInbound : agentInbound;
  }

  /** Picks up what the server told us (welcomes, offers, assignments) for the session-id pools. */
  absorb(): void {
    const fs = this.client.frames;
    for (; this.seen < fs.length; this.seen++) {
      const f = fs[this.seen]!;
      if (f.type === 'pong') this.pongs++;
      if (f.type === 'ack') this.owe(f.clientMsgId, -1);
      if (f.type === 'error') {
        if (f.code === 'too_large') this.gotTooLarge++;
        if (f.code === 'bad_json') this.gotBadJson++;
        if (f.ref !== undefined) this.owe(f.ref, -1);
      }
      if (f.type === 'welcome' && this.kind === 'buyer') {
        this.welcomes.add(f.sessionId);
        this.shared.buyerSessions.push(f.sessionId);
      }
      if (f.type === 'welcome' && this.kind === 'agent') for (const s of f.sessions ?? []) this.assigned.add(s);
      if (f.type === 'offer') {
        this.offered.add(f.sessionId);
        this.liveOffers.add(f.sessionId);
        this.released.delete(f.sessionId);
      }
      if (f.type === 'revoked') this.liveOffers.delete(f.sessionId);
      if (f.type === 'assigned') {
        this.assigned.add(f.sessionId);
        // A repeated accept re-sends `assigned`; a chat the agent let go of stays let go.
        if (!this.released.has(f.sessionId)) this.holding.add(f.sessionId);
        this.liveOffers.delete(f.sessionId);
      }
      if (f.type === 'session_closed') this.holding.delete(f.sessionId);
      if (f.type === 'message' && f.kind === 'rating_invite') this.invited = true;
      if (f.type === 'closed' || f.type === 'welcome') this.invited = false;
    }
  }

  private freshId(): string {
    return `ok-${this.name}-${++this.msgCounter}`;
  }

  /** A session id to aim an agent frame at: mostly its own or offered ones, else anyone's or made up. */
  private sessionId(): string {
    const r = this.rng;
    switch (
      r.weighted([
        ['assigned', this.assigned.size ? 30 : 0],
        ['offered', this.offered.size ? 20 : 0],
        ['other', 50],
      ] as const)
    ) {
      case 'assigned':
        return r.pick([...this.assigned]);
      case 'offered':
        return r.pick([...this.offered]);
      case 'other':
        return this.pickOther();
    }
  }

  /** Someone else's session (another buyer's, the real chat's), or one that does not exist. */
  private pickOther(): string {
    const r = this.rng;
    switch (
      r.weighted([
        ['buyer', this.shared.buyerSessions.length ? 30 : 0],
        ['real', this.shared.realSession ? 20 : 0],
        ['uuid', 25],
        ['nasty', 25],
      ] as const)
    ) {
      case 'buyer':
        return r.pick(this.shared.buyerSessions);
      case 'real':
        return this.shared.realSession;
      case 'uuid':
        return r.uuid();
      case 'nasty':
        return r.pick(NASTY_IDS);
    }
  }

  private text(): string {
    const r = this.rng;
    switch (r.int(0, 5)) {
      case 0:
        return r.pick(KEYWORD_TEXTS);
      case 1:
        return r.unicode(r.int(1, 40));
      case 2:
        return r.ascii(r.int(1, 200));
      case 3:
        return r.unicode(2000); // the limit, exactly
      default:
        return `fuzz ${r.ascii(r.int(1, 20))}`;
    }
  }

  /**
   * A frame that passes the schema (it may still be refused by the domain). `busy`: act on
   * live offers, held chats and rating invites (only for frames that are sent as they are).
   */
  valid(busy = false): Frame {
    const r = this.rng;
    if (this.kind === 'buyer') {
      if (busy && this.invited && r.chance(0.5)) return { type: 'rate', score: r.int(1, 5), ...(r.chance(0.5) ? { comment: r.unicode(r.int(0, 500)) } : {}) };
      switch (r.weighted([['message', 6], ['resume', 2], ['rate', 2], ['ping', 1]] as const)) {
        case 'message': {
          const id = this.freshId();
          return { type: 'message', clientMsgId: id, text: this.text() };
        }
        case 'resume':
          return { type: 'resume', lastSeq: r.pick([0, 1, r.int(0, 50), 2 ** 31, Number.MAX_SAFE_INTEGER]) };
        case 'rate':
          return { type: 'rate', score: r.int(1, 5), ...(r.chance(0.5) ? { comment: r.unicode(r.int(0, 500)) } : {}) };
        case 'ping':
          return { type: 'ping' };
      }
    }
    // Half the time a busy agent works: takes a live offer, or talks to / closes / passes on a chat it holds.
    if (busy && this.liveOffers.size && r.chance(0.5)) {
      const sessionId = r.pick([...this.liveOffers]);
      this.liveOffers.delete(sessionId); // answered once; repeats come from the random mix below
      return { type: r.chance(0.95) ? 'accept' : 'decline', sessionId };
    }
    if (busy && this.holding.size && r.chance(0.5)) {
      const sessionId = r.pick([...this.holding]);
      switch (r.weighted([['message', 10], ['close', 5], ['transfer', 2], ['resume', 3]] as const)) {
        case 'message':
          return { type: 'message', sessionId, clientMsgId: this.freshId(), text: this.text() };
        case 'close':
          this.release(sessionId);
          return { type: 'close', sessionId };
        case 'transfer':
          this.release(sessionId);
          return { type: 'transfer', sessionId, toRole: r.pick(ROLES), ...(r.chance(0.5) ? { note: r.unicode(r.int(0, 300)) } : {}) };
        case 'resume':
          return { type: 'resume', sessionId, lastSeq: r.int(0, 10) };
      }
    }
    const t = r.weighted([
      ['ready', 2], ['away', 1], ['accept', 5], ['decline', 2], ['message', 6], ['transfer', 2],
      // A block lasts (sessions.blockMs >= 1 min) the whole run: rare, or most buyer messages would just earn `blocked`.
      ['close', 2], ['block', 0.15], ['resume', 2], ['ping', 1],
    ] as const);
    switch (t) {
      case 'ready':
        return {
          type: 'ready',
          roles: Array.from({ length: r.int(1, 4) }, () => (r.chance(0.9) ? r.pick(ROLES) : r.pick(['no-such-role', '__proto__', 'constructor', 'PRE-SALE']))),
          capacity: r.int(1, 50),
        };
      case 'away':
      case 'ping':
        return { type: t };
      case 'accept':
        return { type: 'accept', sessionId: this.offered.size && r.chance(0.6) ? r.pick([...this.offered]) : this.sessionId() };
      case 'decline':
      case 'close':
        return { type: t, sessionId: this.sessionId() };
      case 'message':
        return { type: 'message', sessionId: this.sessionId(), clientMsgId: this.freshId(), text: this.text() };
      case 'transfer':
        return {
          type: 'transfer',
          sessionId: this.sessionId(),
          toRole: r.chance(0.85) ? r.pick(ROLES) : r.pick(['nowhere', '__proto__', 'toString']),
          ...(r.chance(0.5) ? { note: r.unicode(r.int(0, 300)) } : {}),
        };
      case 'block':
        // Mostly at sessions it does not hold: a real block silences that buyer for the rest of the run.
        return { type: 'block', sessionId: r.chance(0.05) ? this.sessionId() : this.pickOther(), reason: r.unicode(r.int(1, 100)) };
      case 'resume':
        return { type: 'resume', sessionId: this.sessionId(), lastSeq: r.pick([0, 1, r.int(0, 30), Number.MAX_SAFE_INTEGER]) };
    }
  }

  private weird(): unknown {
    const r = this.rng;
    const deep = (n: number): unknown => (n === 0 ? {} : { a: deep(n - 1) });
    return r.pick<() => unknown>([
      () => 0, () => -1, () => 1.5, () => 2 ** 53, () => 2 ** 63, () => 1e308, () => -1e308,
      () => Number.MAX_SAFE_INTEGER + 2, () => Number.MIN_SAFE_INTEGER, () => 51, () => 6,
      () => 'NaN', () => 'Infinity', () => '-1', () => '1', () => '', () => ' ', () => true, () => false, () => null,
      () => [], () => [1, 'a', null], () => ({}), () => deep(r.int(1, 200)), () => ({ type: 'ping' }),
      () => 'x'.repeat(65), () => 'x'.repeat(129), () => 'x'.repeat(501), () => 'x'.repeat(2001), () => r.ascii(r.int(1, 12_000)),
      () => r.unicode(r.int(1, 80)), () => '\u0000\u0001\u001f', () => '😀'.repeat(r.int(1, 1100)),
      () => r.pick(NASTY_IDS), () => r.pick(ROLES), () => [r.pick(ROLES)], () => Array(40).fill('pre-sale'),
    ])();
  }

  /** A valid frame with one to three fields broken (wrong type, out of range, missing, extra). */
  wrongFields(): Frame {
    const r = this.rng;
    let f: Frame;
    do f = this.valid();
    while (f.type === 'ping' || f.type === 'away');
    // Keep these ids apart from the valid ones (refs of bad_frame errors are counted per id).
    if (typeof f.clientMsgId === 'string') f.clientMsgId = `mut-${this.name}-${++this.msgCounter}`;
    const n = r.int(1, 3);
    for (let i = 0; i < n; i++) {
      const keys = Object.keys(f).filter((k) => k !== 'type');
      const op = r.int(0, 5);
      if (op <= 3 && keys.length) f[r.pick(keys)] = this.weird();
      else if (op === 4 && keys.length) delete f[r.pick(keys)];
      else f[r.pick(['extra', 'sessionId', 'lastSeq', 'score', 'roles', 'capacity', 'seq', 'from'])] = this.weird();
    }
    return f;
  }

  /** One fuzz frame: [generator name, payload, binary?]. */
  generate(): [string, Buffer, boolean] {
    const r = this.rng;
    const g = r.weighted([
      ['random-bytes', 5], ['non-json', 5], ['truncated', 7], ['json-non-object', 5], ['bad-type', 7],
      ['wrong-fields', 20], ['proto-keys', 4], ['oversized', 3], ['size-boundary', 1], ['binary-valid', 2],
      ['valid-out-of-state', 25], ['duplicate-id', 4], ['foreign-session', this.kind === 'agent' ? 4 : 0], ['ping', 2],
    ] as const);
    const json = (v: unknown) => Buffer.from(JSON.stringify(v));
    const text = (s: string) => Buffer.from(s);
    switch (g) {
      case 'random-bytes':
        return [g, r.bytes(r.int(0, 400)), true];
      case 'non-json':
        return [
          g,
          text(
            r.pick([
              () => '',
              () => ' ',
              () => '{not json',
              () => "{'type':'ping'}",
              () => '{"type":"ping",}',
              () => '{"type":"ping"}}',
              () => '{"type":NaN}',
              () => '{"type":"ping","x":Infinity}',
              () => 'undefined',
              () => '{"type":"ping"}\n{"type":"ping"}',
              () => '/* */{"type":"ping"}',
              () => r.ascii(r.int(1, 300)),
              () => r.unicode(r.int(1, 300)),
              () => '['.repeat(r.int(1, 5000)),
              () => '{"a":'.repeat(r.int(1, 2000)),
            ])(),
          ),
          r.chance(0.1),
        ];
      case 'truncated': {
        const full = JSON.stringify(this.valid());
        return [g, text(full.slice(0, r.int(0, full.length - 1))), r.chance(0.1)];
      }
      case 'json-non-object':
        return [
          g,
          text(
            r.pick([
              () => 'null', () => 'true', () => '0', () => '-1e999', () => '"ping"', () => '"{\\"type\\":\\"ping\\"}"',
              () => '[]', () => '[{"type":"ping"}]', () => JSON.stringify(r.unicode(20)), () => String(r.next()),
              () => '['.repeat(3000) + ']'.repeat(3000), () => `[${Array(2000).fill('1').join(',')}]`,
            ])(),
          ),
          r.chance(0.1),
        ];
      case 'bad-type': {
        const base: Frame = this.valid();
        const other = this.kind === 'buyer' ? ['accept', 'ready', 'close', 'block', 'transfer', 'away'] : ['rate'];
        const t = r.pick<unknown>([
          undefined, null, 0, 1, true, [], {}, ['ping'], { type: 'ping' }, '', ' ping', 'PING', 'Ping', 'ping\u0000',
          'pong', 'welcome', 'ack', 'error', 'teleport', '__proto__', 'constructor', 'toString', r.pick(other), r.unicode(10),
        ]);
        const f: Record<string, unknown> = { ...base };
        if (t === undefined) delete f.type;
        else f.type = t;
        return [g, json(f), false];
      }
      case 'wrong-fields':
        return [g, json(this.wrongFields()), r.chance(0.05)];
      case 'proto-keys': {
        const id = `pp-${this.name}-${++this.msgCounter}`;
        const sid = JSON.stringify(this.rng.chance(0.5) ? r.pick(NASTY_IDS) : this.sessionId());
        const p = r.pick(
          this.kind === 'buyer'
            ? [
                `{"type":"message","clientMsgId":"${id}","text":"hi","__proto__":{"polluted":"yes","text":""}}`,
                `{"__proto__":{"type":"ping"}}`,
                `{"type":"message","constructor":{"prototype":{"polluted":"yes"}},"clientMsgId":"${id}","text":"x"}`,
                `{"type":"resume","lastSeq":0,"__proto__":{"lastSeq":-1}}`,
                `{"type":"rate","score":5,"comment":"__proto__"}`,
                `{"type":"message","clientMsgId":"__proto__","text":"constructor"}`,
                `{"type":"__proto__","clientMsgId":"${id}"}`,
                `{"type":"message","clientMsgId":"${id}","text":{"__proto__":"x"}}`,
              ]
            : [
                `{"type":"accept","sessionId":${sid},"__proto__":{"polluted":"yes"}}`,
                `{"__proto__":{"type":"ping"}}`,
                `{"type":"ready","roles":["__proto__"],"capacity":1}`,
                `{"type":"ready","roles":["constructor","pre-sale"],"capacity":1,"__proto__":{"capacity":0}}`,
                `{"type":"transfer","sessionId":${sid},"toRole":"constructor"}`,
                `{"type":"resume","sessionId":"__proto__","lastSeq":0}`,
                `{"type":"message","sessionId":${sid},"clientMsgId":"${id}","text":"x","constructor":{"prototype":{"polluted":"yes"}}}`,
                `{"type":"close","sessionId":"constructor"}`,
              ],
        );
        return [g, text(p), false];
      }
      case 'oversized': {
        const over = this.maxFrameBytes + r.pick([1, 2, r.int(1, 1000), r.int(1, 60_000)]);
        const kind = r.int(0, 2);
        if (kind === 0) {
          // A valid-looking message frame padded with multi-byte text past the byte limit.
          const head = JSON.stringify({ type: 'message', clientMsgId: 'big', sessionId: 'x', text: '' });
          return [g, Buffer.concat([text(head.slice(0, -2)), text('"'), Buffer.alloc(over, 'a'), text('"}')]), false];
        }
        if (kind === 1) return [g, text(JSON.stringify({ type: 'message', clientMsgId: 'big-cjk', text: '中'.repeat(Math.ceil(over / 3)) })), false];
        return [g, r.bytes(over), true];
      }
      case 'size-boundary': {
        // Exactly at the limit (checked further: text too long -> bad_frame) and one byte over (too_large).
        const head = Buffer.from('{"type":"message","clientMsgId":"edge","text":"');
        const tail = Buffer.from('"}');
        const size = this.maxFrameBytes + r.pick([0, 1, -1]);
        return [g, Buffer.concat([head, Buffer.alloc(size - head.length - tail.length, 'e'), tail]), false];
      }
      case 'binary-valid':
        return [g, json(this.valid(true)), true];
      case 'valid-out-of-state':
        return [g, json(this.valid(true)), false];
      case 'duplicate-id': {
        if (!this.myMsgIds.length) return [g, json({ type: 'ping' }), false];
        const clientMsgId = r.pick(this.myMsgIds);
        const f = this.kind === 'buyer'
          ? { type: 'message', clientMsgId, text: r.chance(0.5) ? 'same id, other text' : this.text() }
          : { type: 'message', sessionId: this.sessionId(), clientMsgId, text: this.text() };
        return [g, json(f), false];
      }
      case 'foreign-session': {
        // Someone else's session: the real chat's (another agent's, or another shop's) or another buyer's.
        const sessionId = this.shared.realSession && r.chance(0.6) ? this.shared.realSession : this.pickOther();
        const t = r.pick(['accept', 'decline', 'close', 'resume', 'message', 'transfer', 'block']);
        const f: Frame = { type: t, sessionId };
        if (t === 'resume') f.lastSeq = r.pick([0, Number.MAX_SAFE_INTEGER]);
        if (t === 'message') Object.assign(f, { clientMsgId: this.freshId(), text: 'not yours' });
        if (t === 'transfer') f.toRole = r.pick(ROLES);
        if (t === 'block') f.reason = 'not yours';
        return [g, json(f), false];
      }
      case 'ping':
        return [g, text('{"type":"ping"}'), false];
    }
  }

  /** Sends one frame and books what the gateway must answer. */
  sendOne(): void {
    const [gen, payload, binary] = this.generate();
    this.stats.generators.set(gen, (this.stats.generators.get(gen) ?? 0) + 1);
    this.framesSent++;
    const p = predict(payload, this.schema, this.maxFrameBytes);
    this.recent.push(`${gen}${binary ? ' (binary)' : ''}: ${payload.length > 300 ? `${payload.subarray(0, 300).toString('utf8')}… (${payload.length} bytes)` : payload.toString('utf8')}`);
    if (this.recent.length > 40) this.recent.shift();
    const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
    if (p.kind === 'too_large') this.tooLarge++;
    else if (p.kind === 'bad_json') this.badJson++;
    else if (p.kind === 'bad_frame') {
      if (p.ref === undefined) this.loopBadFrameNoRef++;
      else {
        bump(this.loopBadFrameByRef, p.ref);
        this.owe(p.ref, 1);
      }
    } else {
      const f = p.frame;
      bump(this.validByType, f.type);
      if (f.type === 'ping') this.pings++;
      else {
        this.validFrames++;
        if (f.type === 'message') {
          bump(this.msgSendsById, f.clientMsgId); // never empty: the schema wants 1..64 characters
          this.owe(f.clientMsgId, 1);
          if (!this.myMsgIds.includes(f.clientMsgId) && this.myMsgIds.length < 200) this.myMsgIds.push(f.clientMsgId);
        } else {
          const ref = refOf(f);
          if (ref === undefined) this.otherValidNoRef++;
          else bump(this.otherValidByRef, ref);
        }
        if (f.type === 'ready' && f.roles.some((x: string) => !ROLES.includes(x))) this.domainBadFrame++;
        if (f.type === 'transfer' && !ROLES.includes(f.toRole)) this.domainBadFrame++;
      }
    }
    this.client.ws.send(payload, { binary });
  }

  // ---- what came back ----

  errors(): Frame[] {
    return this.client.all('error');
  }

  /**
   * Replies still missing, for pacing and draining (the exact accounting is `check`): pongs,
   * frame-loop errors, and one ack-or-error per valid message. Kept up incrementally, so
   * polling it stays cheap however many frames went by.
   */
  outstanding(): number {
    this.absorb();
    return Math.max(0, this.pings - this.pongs) + Math.max(0, this.tooLarge - this.gotTooLarge) + Math.max(0, this.badJson - this.gotBadJson) + this.owedTotal;
  }

  pongsReceived(): number {
    this.absorb();
    return this.pongs;
  }

  /** Answers owed per ref (message id, or the ref of a bad frame): expected minus received. */
  private readonly owedById = new Map<string, number>();
  private owedTotal = 0;
  private owe(ref: string, delta: number): void {
    const before = this.owedById.get(ref) ?? 0;
    const after = before + delta;
    this.owedById.set(ref, after);
    this.owedTotal += Math.max(0, after) - Math.max(0, before);
  }

  /** Every inconsistency between what was sent and what came back. */
  check(): string[] {
    this.absorb();
    const problems: string[] = [];
    const errs = this.errors();
    const count = (code: string) => errs.filter((e) => e.code === code).length;
    const say = (m: string) => problems.push(`${this.name}: ${m}`);
    if (this.client.violations.length) say(`outbound schema violations: ${this.client.violations.slice(0, 5).join(' | ')}`);
    for (const e of errs) if (!(ERROR_CODES as readonly string[]).includes(e.code)) say(`unknown error code ${e.code}`);
    if (this.client.all('pong').length !== this.pings) say(`${this.pings} pings but ${this.client.all('pong').length} pongs`);
    if (count('too_large') !== this.tooLarge) say(`expected ${this.tooLarge} too_large, got ${count('too_large')}`);
    if (count('bad_json') !== this.badJson) say(`expected ${this.badJson} bad_json, got ${count('bad_json')}`);
    const loopBadFrames = this.loopBadFrameNoRef + [...this.loopBadFrameByRef.values()].reduce((a, b) => a + b, 0);
    if (count('bad_frame') !== loopBadFrames + this.domainBadFrame) {
      say(`expected ${loopBadFrames} + ${this.domainBadFrame} (unknown role) bad_frame, got ${count('bad_frame')}`);
    }
    // Errors without a ref come from frames the loop refused before knowing what they were.
    const noRef = errs.filter((e) => e.ref === undefined).length;
    const noRefMust = this.tooLarge + this.badJson + this.loopBadFrameNoRef;
    if (noRef < noRefMust || noRef > noRefMust + this.otherValidNoRef) {
      say(`expected ${this.tooLarge + this.badJson + this.loopBadFrameNoRef} errors without ref, got ${noRef}`);
    }
    // Per ref: exactly one answer per frame that must get one, at most one per frame that may.
    const errsByRef = new Map<string, number>();
    for (const e of errs) if (e.ref !== undefined) errsByRef.set(e.ref, (errsByRef.get(e.ref) ?? 0) + 1);
    const acksById = new Map<string, number>();
    for (const a of this.client.all('ack')) acksById.set(a.clientMsgId, (acksById.get(a.clientMsgId) ?? 0) + 1);
    const refs = new Set([...errsByRef.keys(), ...acksById.keys(), ...this.loopBadFrameByRef.keys(), ...this.msgSendsById.keys()]);
    for (const ref of refs) {
      const got = (errsByRef.get(ref) ?? 0) + (acksById.get(ref) ?? 0);
      const must = (this.loopBadFrameByRef.get(ref) ?? 0) + (this.msgSendsById.get(ref) ?? 0);
      const may = must + (this.otherValidByRef.get(ref) ?? 0);
      if (got < must || got > may) say(`ref ${JSON.stringify(ref).slice(0, 80)}: ${got} answers (acks + errors), expected ${must}..${may}`);
    }
    if (errs.length > this.tooLarge + this.badJson + loopBadFrames + this.validFrames) {
      say(`${errs.length} errors for ${this.tooLarge + this.badJson + loopBadFrames + this.validFrames} frames that could earn one`);
    }
    // Session isolation; an agent hears a session's events only once it was handed the session.
    const handed = new Set<string>();
    for (const f of this.client.frames) {
      if (f.type === 'welcome' && this.kind === 'agent') for (const s of f.sessions ?? []) handed.add(s);
      if (f.type === 'assigned') handed.add(f.sessionId);
      if (this.kind === 'agent' && f.type === 'message' && this.assigned.has(f.sessionId) && !handed.has(f.sessionId)) {
        say(`got message seq ${f.seq} of session ${f.sessionId} before its assigned frame`);
      }
      if (f.type === 'error' || f.sessionId === undefined) continue;
      if (f.sessionId === this.shared.realSession) say(`got a ${f.type} frame of the real chat's session`);
      if (this.kind === 'buyer' && !this.welcomes.has(f.sessionId)) say(`got a ${f.type} frame for session ${f.sessionId}, not its own`);
      if (this.kind === 'agent' && (f.type === 'message' || f.type === 'session_closed' || f.type === 'reply_overdue') && !this.assigned.has(f.sessionId)) {
        say(`got ${f.type} for session ${f.sessionId}, never assigned to it`);
      }
    }
    return problems;
  }
}

// ---------------------------------------------------------------------------
// The real chat that must not notice any of it
// ---------------------------------------------------------------------------

interface RealChat {
  buyer: TestClient;
  agent: TestClient;
  sessionId: string;
  rounds: number;
  declinedOffers: number;
  lapsedOffers: number;
  done: Promise<void>;
}

async function startRealChat(g: RunningGateway, shared: Shared, fuzzing: () => boolean): Promise<RealChat> {
  const buyer = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'real-buyer', kind: 'buyer', shop: 'shop-1' }));
  const { sessionId } = await buyer.next('welcome');
  shared.realSession = sessionId;
  buyer.send({ type: 'message', clientMsgId: 'rb-hello', text: '我要退款 (refund)' });
  await buyer.next('ack', (f) => f.clientMsgId === 'rb-hello');
  const queued = await buyer.next('queue');
  if (queued.role !== REAL_ROLE) throw new Error(`the real chat should queue in ${REAL_ROLE} (config/default.json keywords), got ${queued.role}`);
  const agent = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'real-agent', kind: 'agent', shop: 'shop-1', roles: [REAL_ROLE] }));
  await agent.next('welcome');
  const chat: RealChat = { buyer, agent, sessionId, rounds: 0, declinedOffers: 0, lapsedOffers: 0, done: Promise.resolve() };
  chat.done = (async () => {
    agent.send({ type: 'ready', roles: [REAL_ROLE], capacity: 1 });
    // Fuzz buyers queue after-sale sessions too (some ahead of ours, after a transfer): decline
    // those. Offers last a second here; if ours lapses before the accept lands, wait for the next.
    const isOurs = (f: Frame) => f.sessionId === sessionId;
    for (;;) {
      const offer = await agent.next('offer', () => true, 15_000);
      if (!isOurs(offer)) {
        chat.declinedOffers++;
        agent.send({ type: 'decline', sessionId: offer.sessionId });
        continue;
      }
      const errorsBefore = agent.all('error').filter((e) => e.ref === sessionId).length;
      agent.send({ type: 'accept', sessionId });
      await until(() => agent.all('assigned').some(isOurs) || agent.all('error').filter((e) => e.ref === sessionId).length > errorsBefore, 10_000, 'real accept');
      if (agent.all('assigned').some(isOurs)) break;
      chat.lapsedOffers++;
    }
    for (let i = 0; (fuzzing() || i < 30) && i < 5_000; i++) {
      buyer.send({ type: 'message', clientMsgId: `rb-${i}`, text: `question ${i}` });
      await buyer.next('ack', (f) => f.clientMsgId === `rb-${i}`);
      await agent.next('message', (f) => f.text === `question ${i}`);
      agent.send({ type: 'message', sessionId, clientMsgId: `ra-${i}`, text: `answer ${i}` });
      await agent.next('ack', (f) => f.clientMsgId === `ra-${i}`);
      await buyer.next('message', (f) => f.text === `answer ${i}`);
      chat.rounds = i + 1;
    }
    agent.send({ type: 'away' });
    agent.send({ type: 'close', sessionId });
    await agent.next('session_closed', (f) => f.sessionId === sessionId);
    await buyer.next('message', (f) => f.kind === 'rating_invite');
    buyer.send({ type: 'rate', score: 5 });
    await buyer.next('closed', (f) => f.sessionId === sessionId);
  })();
  return chat;
}

async function checkRealChat(g: RunningGateway, chat: RealChat): Promise<string[]> {
  const problems: string[] = [];
  const { buyer, agent, sessionId, rounds } = chat;
  const say = (m: string) => problems.push(`real chat: ${m}`);
  if (buyer.violations.length || agent.violations.length) say(`schema violations ${[...buyer.violations, ...agent.violations].slice(0, 3).join(' | ')}`);
  if (buyer.all('error').length) say(`buyer got errors ${JSON.stringify(buyer.all('error').slice(0, 3))}`);
  // The real agent declines fuzz offers and accepts its own; either may race the offer's expiry (bad_state).
  const agentErrors = agent.all('error').filter((e) => !(e.code === 'bad_state' && (e.ref !== sessionId || chat.lapsedOffers > 0)));
  if (agentErrors.length) say(`agent got errors ${JSON.stringify(agentErrors.slice(0, 3))}`);
  for (const f of buyer.frames) if (f.sessionId !== undefined && f.sessionId !== sessionId) say(`buyer got ${f.type} of session ${f.sessionId}`);
  for (const f of agent.frames) {
    if (['message', 'assigned', 'session_closed', 'reply_overdue'].includes(f.type) && f.sessionId !== sessionId) {
      say(`agent got ${f.type} of session ${f.sessionId} it does not own`);
    }
  }
  // Buyer: every answer exactly once, in order, seq strictly increasing over everything it was shown.
  const bMsgs = buyer.all('message');
  const answers = bMsgs.filter((m) => m.from === 'agent').map((m) => m.text);
  const wantAnswers = Array.from({ length: rounds }, (_, i) => `answer ${i}`);
  if (JSON.stringify(answers) !== JSON.stringify(wantAnswers)) say(`buyer saw answers ${answers.length}/${rounds}, not exactly once in order`);
  const bSeqs = bMsgs.map((m) => m.seq as number);
  if (bSeqs.some((s, i) => i > 0 && s <= bSeqs[i - 1]!)) say(`buyer's message seqs not strictly increasing: ${bSeqs.join(',')}`);
  const bAcks = buyer.all('ack');
  if (bAcks.length !== rounds + 1 || new Set(bAcks.map((a) => a.clientMsgId)).size !== rounds + 1) say(`buyer got ${bAcks.length} acks for ${rounds + 1} messages`);
  // Agent: every question exactly once, in order, seq increasing; its acks match what the buyer was shown.
  const aMsgs = agent.all('message').filter((m) => m.sessionId === sessionId);
  const questions = aMsgs.filter((m) => m.from === 'buyer' && m.text.startsWith('question ')).map((m) => m.text);
  const wantQuestions = Array.from({ length: rounds }, (_, i) => `question ${i}`);
  if (JSON.stringify(questions) !== JSON.stringify(wantQuestions)) say(`agent saw questions ${questions.length}/${rounds}, not exactly once in order`);
  const aSeqs = aMsgs.map((m) => m.seq as number);
  if (aSeqs.some((s, i) => i > 0 && s <= aSeqs[i - 1]!)) say(`agent's message seqs not strictly increasing`);
  const ackSeq = new Map(agent.all('ack').map((a) => [a.clientMsgId, a.seq]));
  for (const m of bMsgs.filter((x) => x.from === 'agent')) {
    const i = Number(String(m.text).slice('answer '.length));
    if (ackSeq.get(`ra-${i}`) !== m.seq) say(`answer ${i} shown with seq ${m.seq}, acked with ${ackSeq.get(`ra-${i}`)}`);
  }
  // The stored transcript: gap-free, each line once.
  const events = await g.gateway.deps.store.readEvents('shop-1', sessionId, 0);
  if (events.some((e, i) => e.seq !== i + 1)) say(`stored seqs not 1..n: ${events.map((e) => e.seq).join(',')}`);
  for (let i = 0; i < rounds; i++) {
    if (events.filter((e) => e.text === `question ${i}`).length !== 1) say(`question ${i} stored ${events.filter((e) => e.text === `question ${i}`).length} times`);
    if (events.filter((e) => e.text === `answer ${i}`).length !== 1) say(`answer ${i} stored ${events.filter((e) => e.text === `answer ${i}`).length} times`);
  }
  const s = await g.gateway.deps.store.getSession('shop-1', sessionId);
  if (s?.state !== 'closed' || s.rating !== 5 || s.lastAgentId !== 'real-agent') say(`final session ${JSON.stringify(s)}`);
  return problems;
}

// ---------------------------------------------------------------------------

function table(title: string, rows: [string, number | string][]): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${String(v).padStart(8)}`)].join('\n');
}

let redis: RedisHandle;
const processErrors: string[] = [];
const onRejection = (reason: unknown) => processErrors.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
const onException = (err: Error) => processErrors.push(`uncaughtException: ${err.stack}`);

beforeAll(async () => {
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  redis = await startRedis();
});
afterAll(async () => {
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
  await redis?.stop();
});

describe(`wire fuzzing ${tag}`, () => {
  it('answers tens of thousands of bad frames with stable error codes while a real chat carries on', async () => {
    const started = Date.now();
    const protoKeys = Object.getOwnPropertyNames(Object.prototype).sort().join(',');
    const g = await startGateway({
      ...(process.env.FUZZ_STORE === 'memory' ? {} : { redisUrl: redis.url }),
      config: {
        server: {
          errorLimit: 1_000_000,
          rateLimit: {
            buyer: { perSecond: 100_000, burst: 100_000 },
            agent: { perSecond: 100_000, burst: 100_000 },
            // The predicted codes leave rate limits out: test/bounds.test.ts covers them.
            perBuyer: { perSecond: 100_000, burst: 100_000 },
            perShop: { perSecond: 100_000, burst: 100_000 },
          },
        },
        // Its real chat is long by design; test/bounds.test.ts covers the transcript cap.
        sessions: { maxTranscriptEvents: 100_000 },
        // Short offers (and the exclusion after a decline, as long): fuzz sessions change hands
        // many times in a few seconds, and offers expire (`revoked`) too.
        routing: { offerTimeoutMs: 1_000 },
      },
    });
    const maxFrameBytes = g.gateway.deps.config().server.maxFrameBytes;
    const shared: Shared = { buyerSessions: [], realSession: '' };
    const stats: Stats = { generators: new Map() };
    const conns: FuzzConn[] = [];
    const health = { ok: 0, bad: [] as string[] };
    let fuzzing = true;
    let healthTimer: NodeJS.Timeout | undefined;
    const others: TestClient[] = [];
    try {
      const chat = await startRealChat(g, shared, () => fuzzing);
      others.push(chat.buyer, chat.agent);

      // Fuzz clients: buyers and agents in the real chat's shop and in another one.
      const specs: { kind: 'buyer' | 'agent'; shop: string }[] = [
        ...Array.from({ length: 3 }, () => ({ kind: 'buyer' as const, shop: 'shop-1' })),
        ...Array.from({ length: 3 }, () => ({ kind: 'buyer' as const, shop: 'shop-2' })),
        ...Array.from({ length: 2 }, () => ({ kind: 'agent' as const, shop: 'shop-1' })),
        ...Array.from({ length: 3 }, () => ({ kind: 'agent' as const, shop: 'shop-2' })),
      ];
      for (const [i, s] of specs.entries()) {
        const name = `${s.kind[0]}${i}-${s.shop}`;
        const claims = s.kind === 'agent' && s.shop === 'shop-1' ? { roles: FUZZ_AGENT_CLAIM_ROLES } : {};
        const client = await TestClient.connect(g.url, s.kind, await g.token({ sub: `fuzz-${name}`, kind: s.kind, shop: s.shop, ...claims }));
        await client.next('welcome');
        conns.push(new FuzzConn(name, s.kind, s.shop, client, (SEED ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0, shared, stats, maxFrameBytes));
      }
      // A buyer of another shop with the real buyer's id: a different session, never the real one's events.
      const twin = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'real-buyer', kind: 'buyer', shop: 'shop-2' }));
      others.push(twin);
      const twinWelcome = await twin.next('welcome');
      expect(twinWelcome.sessionId, tag).not.toBe(chat.sessionId);

      healthTimer = setInterval(() => {
        fetch(`${g.http}/healthz`).then(
          (r) => (r.status === 200 ? health.ok++ : health.bad.push(`status ${r.status}`)),
          (err: Error) => health.bad.push(err.message),
        );
      }, 250);

      // Fuzz: every connection sends batches, each followed by a ping round trip so the
      // gateway is never more than a batch behind.
      const perConn = Math.ceil(TOTAL_FRAMES / conns.length);
      const fuzzStarted = Date.now();
      const crossTenant = (async () => {
        // Deterministic cross-tenant probe, while the real chat is live: a shop-2 agent gets
        // unknown_session for every frame that names the shop-1 session, and never touches it.
        await until(() => chat.agent.all('assigned').some((f) => f.sessionId === chat.sessionId), 20_000, 'real chat assigned').catch(() => undefined);
        const intruder = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'intruder', kind: 'agent', shop: 'shop-2' }));
        others.push(intruder);
        await intruder.next('welcome');
        const sid = chat.sessionId;
        const probes: Frame[] = [
          { type: 'accept', sessionId: sid },
          { type: 'decline', sessionId: sid },
          { type: 'message', sessionId: sid, clientMsgId: 'intrude-1', text: 'hi from another shop' },
          { type: 'close', sessionId: sid },
          { type: 'transfer', sessionId: sid, toRole: 'after-sale' },
          { type: 'block', sessionId: sid, reason: 'not yours' },
          { type: 'resume', sessionId: sid, lastSeq: 0 },
        ];
        const codes: Record<string, string> = {};
        for (const p of probes) {
          intruder.send(p);
          const ref = p.type === 'message' ? 'intrude-1' : sid;
          const e = await intruder.next('error', (f) => f.ref === ref);
          codes[p.type] = e.code;
        }
        intruder.send({ type: 'ping' });
        await intruder.next('pong');
        return { codes, intruder };
      })();
      // Awaited further down; until then a failure must not surface as an unhandled rejection.
      chat.done.catch(() => {});
      crossTenant.catch(() => {});
      await Promise.all(
        conns.map(async (c) => {
          for (let sentHere = 0; sentHere < perConn; ) {
            c.absorb();
            for (let j = 0; j < BATCH && sentHere < perConn; j++, sentHere++) c.sendOne();
            c.client.send({ type: 'ping' });
            c.pings++;
            c.pacingPings++;
            await until(() => c.pongsReceived() >= c.pings || c.client.ws.readyState !== WebSocket.OPEN, 10_000, `${c.name} pong`);
            // Keep the store work in flight bounded too.
            await until(() => c.outstanding() < 400 || c.client.ws.readyState !== WebSocket.OPEN, 10_000, `${c.name} backlog`);
          }
        }),
      );
      const fuzzSeconds = (Date.now() - fuzzStarted) / 1000;
      // Drain: every answer in, then a quiet spell, so late duplicates would show up.
      await until(() => conns.every((c) => c.outstanding() === 0), 20_000, 'every fuzz frame answered').catch(() => undefined);
      let last = -1;
      await until(
        () => {
          const n = conns.reduce((a, c) => a + c.client.frames.length, 0);
          const quiet = n === last;
          last = n;
          return quiet;
        },
        10_000,
        'quiet',
      ).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 300));
      fuzzing = false;
      await chat.done;
      const { codes: intruderCodes, intruder } = await crossTenant;

      // Still alive: every fuzz connection open and answering.
      for (const c of conns) {
        expect(c.client.ws.readyState, `${tag} ${c.name} closed`).toBe(WebSocket.OPEN);
        c.client.send({ type: 'ping' });
        c.pings++;
      }
      await Promise.all(conns.map((c) => until(() => c.pongsReceived() === c.pings, 5_000, `${c.name} final pong`)));
      clearInterval(healthTimer);
      const healthz = await fetch(`${g.http}/healthz`);
      expect(healthz.status, tag).toBe(200);

      // ---- figures ----
      const histogram = new Map<string, number>();
      for (const c of conns) for (const e of c.errors()) histogram.set(e.code, (histogram.get(e.code) ?? 0) + 1);
      const framesSent = conns.reduce((a, c) => a + c.framesSent, 0);
      const serverFrames = conns.reduce((a, c) => a + c.client.frames.length, 0);
      const validByType = new Map<string, number>();
      for (const c of conns) for (const [t, n] of c.validByType) validByType.set(`${c.kind} ${t}`, (validByType.get(`${c.kind} ${t}`) ?? 0) + n);
      const serverByType = new Map<string, number>();
      for (const c of conns) for (const f of c.client.frames) serverByType.set(`${c.kind} ${f.type}`, (serverByType.get(`${c.kind} ${f.type}`) ?? 0) + 1);
      const predicted = {
        too_large: conns.reduce((a, c) => a + c.tooLarge, 0),
        bad_json: conns.reduce((a, c) => a + c.badJson, 0),
        bad_frame: conns.reduce((a, c) => a + c.loopBadFrameNoRef + [...c.loopBadFrameByRef.values()].reduce((x, y) => x + y, 0) + c.domainBadFrame, 0),
      };
      console.log(
        [
          `\n=== fuzz report ${tag} ===`,
          `fuzz frames sent: ${framesSent} (+${conns.reduce((a, c) => a + c.pacingPings, 0)} pacing pings) over ${conns.length} connections in ${fuzzSeconds.toFixed(1)} s; ${serverFrames} server frames back; total test time ${((Date.now() - started) / 1000).toFixed(1)} s`,
          table('frames per generator', [...stats.generators].sort((a, b) => b[1] - a[1])),
          table('schema-valid frames by type (handled by the domain)', [...validByType].sort((a, b) => b[1] - a[1])),
          table('server frames to fuzz clients by type', [...serverByType].sort((a, b) => b[1] - a[1])),
          table(
            'error codes received (predicted frame-loop errors in brackets)',
            [...ERROR_CODES].sort((a, b) => (histogram.get(b) ?? 0) - (histogram.get(a) ?? 0)).map((k) => [k, `${histogram.get(k) ?? 0}${k in predicted ? ` [${predicted[k as keyof typeof predicted]}]` : ''}`]),
          ),
          table('real chat', [
            ['rounds (question + answer)', chat.rounds],
            ['fuzz offers it declined first', chat.declinedOffers],
            ['own offers lapsed before accept', chat.lapsedOffers],
          ]),
          `cross-tenant probe (shop-2 agent on the shop-1 session): ${JSON.stringify(intruderCodes)}`,
          `/healthz polls during fuzzing: ${health.ok} ok, ${health.bad.length} bad; process errors: ${processErrors.length}`,
        ].join('\n'),
      );

      // ---- verdicts ----
      const internal = conns.flatMap((c) => c.errors().filter((e) => e.code === 'internal').map((e) => `${c.name}: ${JSON.stringify(e)}; recent frames:\n  ${c.recent.slice(-10).join('\n  ')}`));
      expect(internal, `${tag} internal errors (server bugs)`).toEqual([]);
      expect(processErrors, tag).toEqual([]);
      expect(health.bad, tag).toEqual([]);
      expect(conns.flatMap((c) => c.check()), tag).toEqual([]);
      expect(await checkRealChat(g, chat), tag).toEqual([]);
      expect(intruderCodes, tag).toEqual({
        accept: 'unknown_session', decline: 'unknown_session', message: 'unknown_session', close: 'unknown_session',
        transfer: 'unknown_session', block: 'unknown_session', resume: 'unknown_session',
      });
      expect(intruder.frames.filter((f) => f.sessionId === chat.sessionId), tag).toEqual([]);
      expect(twin.frames.filter((f) => f.sessionId === chat.sessionId), tag).toEqual([]);
      expect(twin.violations, tag).toEqual([]);
      // The real session was never touched by anyone else.
      const s = await g.gateway.deps.store.getSession('shop-1', chat.sessionId);
      expect(s?.roleHistory, tag).toEqual([REAL_ROLE]);
      expect(s?.handovers ?? [], tag).toEqual([]);
      // Nothing leaked onto Object.prototype through __proto__ / constructor keys.
      expect(Object.getOwnPropertyNames(Object.prototype).sort().join(','), tag).toBe(protoKeys);
      expect(({} as Record<string, unknown>).polluted, tag).toBeUndefined();
    } finally {
      clearInterval(healthTimer);
      fuzzing = false;
      await Promise.all([...conns.map((c) => c.client.close()), ...others.map((c) => c.close())]);
      await g.stop();
    }
  }, 90_000);

  it('with the default limits closes a garbage-spewing client with 1008 and nothing else breaks', async () => {
    const g = await startGateway({ redisUrl: redis.url });
    const rng = new Rng(SEED ^ 0x1008);
    const { errorLimit } = g.gateway.deps.config().server;
    const clients: TestClient[] = [];
    try {
      // A chat that must carry on.
      const buyer = await TestClient.connect(g.url, 'buyer', await g.token({ sub: 'calm-buyer', kind: 'buyer' }));
      clients.push(buyer);
      const { sessionId } = await buyer.next('welcome');
      buyer.send({ type: 'message', clientMsgId: 'c0', text: 'hello' });
      await buyer.next('ack');
      const agent = await TestClient.connect(g.url, 'agent', await g.token({ sub: 'calm-agent', kind: 'agent' }));
      clients.push(agent);
      await agent.next('welcome');
      agent.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
      await agent.next('offer', (f) => f.sessionId === sessionId);
      agent.send({ type: 'accept', sessionId });
      await agent.next('assigned');

      // Garbage from a buyer and an agent: closed with 1008 after errorLimit errors.
      const spew = async (kind: 'buyer' | 'agent') => {
        const c = await TestClient.connect(g.url, kind, await g.token({ sub: `spew-${kind}`, kind }));
        clients.push(c);
        await c.next('welcome');
        for (let i = 0; i < 200 && c.ws.readyState === WebSocket.OPEN; i++) {
          // Random bytes go as binary frames: as text they would not be UTF-8 (1007, tested below).
          if (rng.chance(0.5)) c.ws.send(rng.bytes(rng.int(1, 64)), { binary: true });
          else c.ws.send(`{"type":${rng.int(0, 9)}}`);
        }
        const closed = await c.closed;
        return { closed, errors: c.all('error'), violations: c.violations };
      };
      const [b, a] = await Promise.all([spew('buyer'), spew('agent')]);
      for (const r of [b, a]) {
        expect(r.closed.code, tag).toBe(1008);
        expect(r.errors.length, tag).toBeGreaterThan(errorLimit);
        expect(r.errors.length, tag).toBeLessThanOrEqual(errorLimit + 1);
        expect(r.errors.every((e) => ['bad_json', 'bad_frame', 'rate_limited'].includes(e.code)), tag).toBe(true);
        expect(r.violations, tag).toEqual([]);
      }

      // Below the protocol layer: a text frame that is not UTF-8 (1007) and one past the
      // WebSocket payload cap (1009) end only their own connection.
      const raw = async (payload: Buffer, binary: boolean) => {
        const c = await TestClient.connect(g.url, 'buyer', await g.token({ sub: `raw-${payload.length}`, kind: 'buyer' }));
        clients.push(c);
        await c.next('welcome');
        c.ws.send(payload, { binary });
        return (await c.closed).code;
      };
      expect(await raw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false), tag).toBe(1007);
      expect(await raw(Buffer.alloc(Math.max(1_048_576, g.gateway.deps.config().server.maxFrameBytes * 4) + 1, 0x20), true), tag).toBe(1009);

      // The chat is unaffected.
      for (let i = 1; i <= 5; i++) {
        buyer.send({ type: 'message', clientMsgId: `c${i}`, text: `still there ${i}?` });
        await buyer.next('ack', (f) => f.clientMsgId === `c${i}`);
        expect(await agent.next('message', (f) => f.text === `still there ${i}?`), tag).toMatchObject({ sessionId, from: 'buyer' });
        agent.send({ type: 'message', sessionId, clientMsgId: `r${i}`, text: `yes ${i}` });
        expect(await buyer.next('message', (f) => f.text === `yes ${i}`), tag).toMatchObject({ sessionId, from: 'agent' });
      }
      expect([...buyer.all('error'), ...agent.all('error')], tag).toEqual([]);
      expect([...buyer.violations, ...agent.violations], tag).toEqual([]);
      expect((await fetch(`${g.http}/healthz`)).status, tag).toBe(200);
      expect(processErrors, tag).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await g.stop();
    }
  }, 30_000);
});
