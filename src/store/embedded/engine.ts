import { COMMANDS, type CommandTable, type Context } from './commands/index.ts';
import { CommandError, ErrorReply, Keyspace, type Reply } from './keyspace.ts';
import { LuaScripting } from './lua.ts';
import { PubSubHub } from './pubsub.ts';

export interface EngineOptions {
  /** The clock expiry is decided by (and XADD '*' and TIME read); tests pass a fake one. */
  now?: () => number;
  /** The command table; tests swap one command for a wrong one to see the differential test fail. */
  commands?: CommandTable;
}

/**
 * A Redis server in process: the generic command table over one keyspace, Lua scripting that
 * runs unchanged Redis scripts against it, and pub/sub. It serves any client that speaks
 * these commands; it knows nothing about what the keys mean.
 */
export class RedisEngine {
  readonly keyspace: Keyspace;
  readonly pubsub = new PubSubHub();
  private readonly scripting: LuaScripting;
  private readonly ctx: Context;
  private readonly commands: CommandTable;

  constructor(opts: EngineOptions = {}) {
    this.commands = opts.commands ?? COMMANDS;
    this.keyspace = new Keyspace(opts.now ?? Date.now);
    this.ctx = { ks: this.keyspace, publish: (c, m, s) => this.pubsub.publish(c, m, s) };
    this.scripting = new LuaScripting((args) => this.run(args, true));
  }

  /** One command as a client sends it; failures are ErrorReply values. */
  command(args: string[]): Reply {
    return this.run(args, false);
  }

  /** EVAL body numkeys key... arg... */
  eval(body: string, keys: string[], argv: string[]): Reply {
    this.keyspace.maybeSweep();
    return this.scripting.eval(body, keys, argv);
  }

  /** FUNCTION LOAD REPLACE code: the library's name, or an ErrorReply. */
  functionLoad(code: string): Reply {
    return this.scripting.loadLibrary(code);
  }

  /** FCALL name numkeys key... arg... */
  fcall(name: string, keys: string[], argv: string[]): Reply {
    this.keyspace.maybeSweep();
    return this.scripting.fcall(name, keys, argv);
  }

  private run(args: string[], fromScript: boolean): Reply {
    // Scripts name commands in upper case; others get looked up again.
    let name = args[0]!;
    let cmd = this.commands[name];
    if (!cmd) {
      name = name.toUpperCase();
      cmd = this.commands[name];
    }
    if (!cmd) {
      return new ErrorReply(
        fromScript ? 'ERR Unknown Redis command called from script' : `ERR unknown command '${args[0]}', with args beginning with: ${args.slice(1).map((a) => `'${a}' `).join('')}`,
      );
    }
    if (cmd.arity > 0 ? args.length !== cmd.arity : args.length < -cmd.arity) {
      return new ErrorReply(fromScript ? 'ERR Wrong number of args calling Redis command from script' : `ERR wrong number of arguments for '${name.toLowerCase()}' command`);
    }
    if (!fromScript) this.keyspace.maybeSweep();
    try {
      return cmd.run(this.ctx, args.slice(1));
    } catch (err) {
      if (err instanceof CommandError) return new ErrorReply(err.message);
      throw err;
    }
  }
}
