import type { Keyspace, Reply } from '../keyspace.ts';

/** What a command may reach besides the keyspace: the in-process pub/sub. */
export interface Context {
  ks: Keyspace;
  /** Delivers later (after the running command or script) and returns the number of receivers. */
  publish(channel: string, message: string, sharded: boolean): number;
}

export interface Command {
  /** As Redis counts it, the name included: n = exactly n, -n = at least n. */
  arity: number;
  run(ctx: Context, args: string[]): Reply;
}

export type CommandTable = Record<string, Command>;
