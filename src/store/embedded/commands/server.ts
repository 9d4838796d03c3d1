import { StatusReply } from '../keyspace.ts';
import type { CommandTable } from './types.ts';

export const serverCommands: CommandTable = {
  PING: { arity: -1, run: (_ctx, [msg]) => (msg === undefined ? new StatusReply('PONG') : msg) },
  TIME: {
    arity: 1,
    run: (ctx) => {
      const ms = ctx.ks.now();
      return [String(Math.floor(ms / 1000)), String(Math.floor((ms % 1000) * 1000))];
    },
  },
  PUBLISH: { arity: 3, run: (ctx, [channel, message]) => ctx.publish(channel!, message!, false) },
  SPUBLISH: { arity: 3, run: (ctx, [channel, message]) => ctx.publish(channel!, message!, true) },
};
