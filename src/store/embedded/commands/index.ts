import { hashCommands } from './hashes.ts';
import { listCommands } from './lists.ts';
import { serverCommands } from './server.ts';
import { setCommands } from './sets.ts';
import { streamCommands } from './streams.ts';
import { streamGroupCommands } from './stream-groups.ts';
import { stringCommands } from './strings.ts';
import type { CommandTable } from './types.ts';
import { zsetCommands } from './zsets.ts';

export type { Command, CommandTable, Context } from './types.ts';

/**
 * Every Redis command the embedded engine knows, by upper-case name (no prototype, so no
 * 'toString' command). Nothing here knows what keys mean.
 */
export const COMMANDS: CommandTable = Object.assign(Object.create(null) as CommandTable, {
  ...stringCommands,
  ...hashCommands,
  ...setCommands,
  ...zsetCommands,
  ...listCommands,
  ...streamCommands,
  ...streamGroupCommands,
  ...serverCommands,
});
