import { Cluster, type Redis } from 'ioredis';
import type { Address, Bus } from '../types.ts';
import { translate } from './errors.ts';
import { channelOf } from './keys.ts';

type Client = Redis | Cluster;

/** Messages held while the bus re-subscribes; past it they are dropped (the catch-up replays them from the store). */
const MAX_HELD_MESSAGES = 100_000;
/** How long the sharded bus holds live messages for a lost shard subscriber that does not come back. */
const MAX_HOLD_MS = 15_000;

/**
 * Pub/sub between instances. On a Cluster it is sharded (SPUBLISH/SSUBSCRIBE, as the scripts
 * publish): a shop's channels carry its hash tag, so its messages stay on its node.
 */
export class RedisBus implements Bus {
  private readonly handlers = new Map<string, (payload: string) => void>();
  private readonly sharded: boolean;

  constructor(
    private readonly pub: Client,
    private readonly sub: Client,
    private readonly prefix: string,
  ) {
    this.sharded = sub instanceof Cluster;
    sub.on(this.sharded ? 'smessage' : 'message', (channel: string, payload: string) => {
      if (this.held) {
        if (this.held.length < MAX_HELD_MESSAGES) this.held.push([channel, payload]);
        return;
      }
      this.handlers.get(channel)?.(payload);
    });
    // After a reconnect ioredis sends the SUBSCRIBEs again right after 'ready'; a PING queued
    // behind them answers once they are all in place. Messages arriving in between are held
    // until the subscribers have started their catch-up: delivered first, a new event would
    // move a connection's position past the ones it missed, and its catch-up would skip them.
    let connectedBefore = sub.status === 'ready';
    sub.on('ready', () => {
      if (!connectedBefore) {
        connectedBefore = true;
        return;
      }
      this.held ??= [];
      setImmediate(() => {
        sub.ping().then(
          () => this.release(true),
          () => this.release(false),
        );
      });
    });
    // On a Cluster the sharded subscribers are per node, outside the cluster connection's own
    // 'ready': when a master fails over, ioredis opens a subscriber on the new master and
    // SSUBSCRIBEs there, then says 'subscribersReady'. What was published in between (on the
    // dying master, or before the new subscription) never arrived: subscribers catch up.
    // Live messages are held from the loss until the catch-up has started, as after 'ready'.
    if (this.sharded) {
      let lost = false;
      let giveUp: NodeJS.Timeout | undefined;
      sub.on('-subscriber', () => {
        lost = true;
        this.held ??= [];
        // A shard that never comes back must not hold the others' messages for ever.
        giveUp ??= setTimeout(() => {
          giveUp = undefined;
          lost = false;
          this.release(true);
        }, MAX_HOLD_MS);
      });
      sub.on('subscribersReady', () => {
        if (!lost) return;
        lost = false;
        // ioredis sends its SSUBSCRIBEs without waiting for them: ours, queued behind them on
        // each shard's subscriber, answer once the channels are in place again. Only then is
        // a replay from the store sure to overlap with live delivery.
        const again = [...this.handlers.keys()].map((channel) => this.sub.ssubscribe(channel).catch(() => {}));
        void Promise.all(again).then(() => {
          clearTimeout(giveUp);
          giveUp = undefined;
          this.release(true);
        });
      });
    }
  }

  /** Messages that arrived after a reconnect, before the catch-up began; null when none are held. */
  private held: [channel: string, payload: string][] | null = null;

  private release(resubscribed: boolean): void {
    const held = this.held ?? [];
    this.held = null;
    // The catch-ups take their positions synchronously, so they start before the held messages.
    if (resubscribed) this.resubscribed.forEach((fn) => fn());
    for (const [channel, payload] of held) this.handlers.get(channel)?.(payload);
  }

  private readonly resubscribed: (() => void)[] = [];

  onResubscribe(fn: () => void): void {
    this.resubscribed.push(fn);
  }

  async subscribe(address: Address, onPayload: (payload: string) => void): Promise<void> {
    await this.listen(channelOf(this.prefix, address), onPayload);
  }

  /** Any channel: an address's, or the shared config announcements. */
  async listen(channel: string, onPayload: (payload: string) => void): Promise<void> {
    this.handlers.set(channel, onPayload);
    await (this.sharded ? this.sub.ssubscribe(channel) : this.sub.subscribe(channel)).catch(translate);
  }

  async unsubscribe(address: Address): Promise<void> {
    const channel = channelOf(this.prefix, address);
    this.handlers.delete(channel);
    await (this.sharded ? this.sub.sunsubscribe(channel) : this.sub.unsubscribe(channel)).catch(translate);
  }

  async publish(address: Address, payload: string): Promise<void> {
    try {
      await this.send(channelOf(this.prefix, address), payload);
    } catch (err) {
      translate(err);
    }
  }

  send(channel: string, payload: string): Promise<unknown> {
    return this.sharded ? this.pub.spublish(channel, payload) : this.pub.publish(channel, payload);
  }
}
