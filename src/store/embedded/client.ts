import { EventEmitter } from 'node:events';
import { ReplyError } from 'ioredis';
import { ErrorReply, StatusReply, type Reply } from './keyspace.ts';
import type { RedisEngine } from './engine.ts';
import type { Subscriber } from './pubsub.ts';

type Arg = string | number | Buffer | Arg[] | Record<string, string | number>;

/** ioredis' flattening: arrays spread, objects as field value pairs, numbers as String(n). */
function flatten(args: Arg[], out: string[] = []): string[] {
  for (const a of args) {
    if (Array.isArray(a)) flatten(a, out);
    else if (typeof a === 'object' && !Buffer.isBuffer(a)) for (const [k, v] of Object.entries(a)) out.push(k, String(v));
    else out.push(String(a));
  }
  return out;
}

function replyError(message: string): Error {
  return new ReplyError(message) as Error;
}

/** A reply as ioredis hands it over: status and bulk as strings, nested errors as ReplyError. */
function toJs(r: Reply): unknown {
  if (r instanceof StatusReply) return r.status;
  if (r instanceof ErrorReply) return replyError(r.message);
  if (Array.isArray(r)) return r.map(toJs);
  return r;
}

/** The commands RedisStore and the tests send outside scripts, as ioredis methods. */
const METHODS = [
  'get', 'set', 'del', 'exists', 'pexpire', 'pttl', 'incr',
  'hget', 'hset', 'hmget', 'hgetall', 'hdel', 'hincrby', 'hlen',
  'sadd', 'srem', 'smembers', 'sismember', 'scard',
  'zadd', 'zrem', 'zrange', 'zrangebyscore', 'zrevrangebyscore', 'zrank', 'zscore', 'zcard', 'zcount',
  'xadd', 'xrange', 'xrevrange', 'xlen',
  'lpush', 'lrange', 'ltrim', 'llen',
  'publish', 'spublish', 'time',
] as const;

type Method = (...args: Arg[]) => Promise<any>;

/**
 * An ioredis-shaped client of an in-process RedisEngine, the subset RedisStore uses: commands
 * as methods, scripts registered with defineCommand and called by name (EVAL of the same
 * text), and pub/sub (subscribe, 'message'). Each command runs when called, so commands run
 * in call order as over one connection.
 */
export class EmbeddedClient extends EventEmitter implements Subscriber {
  status: 'ready' | 'end' = 'ready';
  private readonly subscribed = [new Set<string>(), new Set<string>()];

  constructor(readonly engine: RedisEngine) {
    super();
    for (const name of METHODS) (this as unknown as Record<string, Method>)[name] = (...args) => this.call(name, ...args);
  }

  /** Any command by name, as ioredis' `call`. */
  call(name: string, ...args: Arg[]): Promise<any> {
    if (this.status !== 'ready') return Promise.reject(new Error('Connection is closed.'));
    const reply = this.engine.command([name, ...flatten(args)]);
    if (reply instanceof ErrorReply) return Promise.reject(replyError(reply.message));
    if (name === 'hgetall' && Array.isArray(reply)) {
      const obj: Record<string, string> = {};
      for (let i = 0; i + 1 < reply.length; i += 2) obj[reply[i] as string] = reply[i + 1] as string;
      return Promise.resolve(obj);
    }
    return Promise.resolve(toJs(reply));
  }

  eval(script: string, numberOfKeys: number | string, ...args: Arg[]): Promise<any> {
    return this.script(numberOfKeys, args, (keys, argv) => this.engine.eval(script, keys, argv));
  }

  /** FCALL, as ioredis' `fcall(name, numkeys, ...keysAndArgs)`. */
  fcall(name: string, numberOfKeys: number | string, ...args: Arg[]): Promise<any> {
    return this.script(numberOfKeys, args, (keys, argv) => this.engine.fcall(name, keys, argv));
  }

  private script(numberOfKeys: number | string, args: Arg[], run: (keys: string[], argv: string[]) => Reply): Promise<any> {
    if (this.status !== 'ready') return Promise.reject(new Error('Connection is closed.'));
    const flat = flatten(args);
    const n = Number(numberOfKeys);
    const reply = run(flat.slice(0, n), flat.slice(n));
    if (reply instanceof ErrorReply) return Promise.reject(replyError(reply.message));
    return Promise.resolve(toJs(reply));
  }

  /** FUNCTION LOAD [REPLACE] code, as ioredis' `function('LOAD', 'REPLACE', code)`; other subcommands are not served. */
  function(sub: string, ...args: string[]): Promise<any> {
    if (this.status !== 'ready') return Promise.reject(new Error('Connection is closed.'));
    const code = args[args.length - 1];
    if (sub.toUpperCase() !== 'LOAD' || code === undefined) return Promise.reject(replyError('ERR unknown subcommand'));
    const reply = this.engine.functionLoad(code);
    if (reply instanceof ErrorReply) return Promise.reject(replyError(reply.message));
    return Promise.resolve(toJs(reply));
  }

  /** ioredis' defineCommand: the script becomes a method taking its keys, then its arguments. */
  defineCommand(name: string, def: { numberOfKeys: number; lua: string }): void {
    (this as unknown as Record<string, Method>)[name] = (...args) => this.eval(def.lua, def.numberOfKeys, ...args);
  }

  ping(): Promise<string> {
    return this.status === 'ready' ? Promise.resolve('PONG') : Promise.reject(new Error('Connection is closed.'));
  }

  async quit(): Promise<'OK'> {
    for (const sharded of [false, true]) for (const ch of this.subscribed[sharded ? 1 : 0]!) this.engine.pubsub.unsubscribe(this, ch, sharded);
    this.status = 'end';
    return 'OK';
  }

  subscribe(...channels: string[]): Promise<number> {
    return this.listen(channels, false, true);
  }

  unsubscribe(...channels: string[]): Promise<number> {
    return this.listen(channels, false, false);
  }

  ssubscribe(...channels: string[]): Promise<number> {
    return this.listen(channels, true, true);
  }

  sunsubscribe(...channels: string[]): Promise<number> {
    return this.listen(channels, true, false);
  }

  receive(channel: string, message: string, sharded: boolean): void {
    this.emit(sharded ? 'smessage' : 'message', channel, message);
  }

  private listen(channels: string[], sharded: boolean, on: boolean): Promise<number> {
    const mine = this.subscribed[sharded ? 1 : 0]!;
    for (const ch of channels) {
      if (on) {
        mine.add(ch);
        this.engine.pubsub.subscribe(this, ch, sharded);
      } else {
        mine.delete(ch);
        this.engine.pubsub.unsubscribe(this, ch, sharded);
      }
    }
    return Promise.resolve(mine.size);
  }
}

export interface EmbeddedClient extends Record<(typeof METHODS)[number], Method> {}
