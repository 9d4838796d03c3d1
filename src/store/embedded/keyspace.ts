import { SortedSet } from './sorted-set.ts';

export interface StreamEntry {
  ms: bigint;
  seq: bigint;
  fields: string[];
}

/** One pending (delivered, not yet acknowledged) entry of a consumer group. */
export interface PendingEntry {
  ms: bigint;
  seq: bigint;
  consumer: string;
  /** When it was last delivered (keyspace clock) and how often. */
  at: number;
  count: number;
}

/** A consumer group: its last delivered ID, its pending entries by ID string, its consumers. */
export interface StreamGroup {
  last: { ms: bigint; seq: bigint };
  pel: Map<string, PendingEntry>;
  consumers: Set<string>;
}

export interface Stream {
  entries: StreamEntry[];
  /** The last ID ever added: IDs only grow, whatever was trimmed or deleted. */
  last: { ms: bigint; seq: bigint };
  groups: Map<string, StreamGroup>;
}

interface Types {
  string: string;
  hash: Map<string, string>;
  set: Set<string>;
  zset: SortedSet;
  list: string[];
  stream: Stream;
}

export type TypeName = keyof Types;
type Of<T extends TypeName> = Types[T];
/** A key's value, and its deadline (ms by the keyspace clock) when it has one. */
export type Value = { [T in TypeName]: { type: T; v: Types[T]; at: number | undefined } }[TypeName];

/** A Redis reply: integers are numbers (bigint beyond 2^53), bulk strings strings, nil null. */
export type Reply = number | bigint | string | null | Reply[] | StatusReply | ErrorReply;

export class StatusReply {
  constructor(readonly status: string) {}
}

export class ErrorReply {
  constructor(readonly message: string) {}
}

/** A command's failure, answered as an error reply (WRONGTYPE, ERR syntax error, ...). */
export class CommandError extends Error {}

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';

/** How often (by the clock) expired keys nobody looked up are swept out of memory. */
const SWEEP_EVERY_MS = 60_000;

const EMPTY: { [T in TypeName]: () => Types[T] } = {
  string: () => '',
  hash: () => new Map(),
  set: () => new Set(),
  zset: () => new SortedSet(),
  list: () => [],
  stream: () => ({ entries: [], last: { ms: 0n, seq: 0n }, groups: new Map() }),
};

/**
 * Redis' keyspace in one process: typed values, expiry by an injectable clock (a key is gone
 * once the clock is past its deadline, as Redis decides), and aggregates that vanish when
 * they become empty. It knows nothing of what the keys mean.
 */
export class Keyspace {
  private readonly data = new Map<string, Value>();
  private lastSweep: number;

  constructor(readonly now: () => number = Date.now) {
    this.lastSweep = now();
  }

  /** The live value at `key`, expiring it first when its time is up. */
  lookup(key: string): Value | undefined {
    const v = this.data.get(key);
    if (v?.at !== undefined && this.now() > v.at) {
      this.data.delete(key);
      return undefined;
    }
    return v;
  }

  /** The value of `type` at `key`, undefined when absent; WRONGTYPE when it is another type. */
  read<T extends TypeName>(key: string, type: T): Of<T> | undefined {
    const v = this.lookup(key);
    if (!v) return undefined;
    if (v.type !== type) throw new CommandError(WRONGTYPE);
    return v.v as Of<T>;
  }

  /** Like read, but creates an empty value for a write (callers drop it again via settle if it stays empty). */
  write<T extends TypeName>(key: string, type: T): Of<T> {
    const v = this.read(key, type);
    if (v !== undefined) return v;
    const fresh = EMPTY[type]() as Of<T>;
    this.data.set(key, { type, v: fresh, at: undefined } as unknown as Value);
    return fresh;
  }

  /** Deletes an aggregate that a command left empty, as Redis does (streams stay). */
  settle(key: string): void {
    const v = this.data.get(key);
    if (!v) return;
    const size = v.type === 'hash' || v.type === 'set' ? v.v.size : v.type === 'zset' ? v.v.size : v.type === 'list' ? v.v.length : 1;
    if (size === 0) this.delete(key);
  }

  setString(key: string, value: string, keepTtl = false): void {
    const at = keepTtl ? this.lookup(key)?.at : undefined;
    this.data.set(key, { type: 'string', v: value, at });
  }

  delete(key: string): boolean {
    return this.data.delete(key);
  }

  /** The deadline of a live key, undefined without one. */
  expiry(key: string): number | undefined {
    return this.lookup(key)?.at;
  }

  /** Sets (or with undefined removes) a live key's deadline; a deadline already past deletes it. */
  expireAt(key: string, at: number | undefined): void {
    const v = this.lookup(key);
    if (!v) return;
    if (at !== undefined && at <= this.now()) this.data.delete(key);
    else v.at = at; // one object shape for every value: no `delete`
  }

  /** Expired keys are dropped on access; now and then the rest are swept too. */
  maybeSweep(): void {
    const now = this.now();
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, v] of this.data) if (v.at !== undefined && now > v.at) this.data.delete(key);
  }

  get size(): number {
    return this.data.size;
  }
}
