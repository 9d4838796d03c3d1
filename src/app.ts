import { randomBytes, randomUUID } from 'node:crypto';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { pino, type Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { Config } from './config/schema.ts';
import type { Classifier } from './domain/classifier.ts';
import { IntentClassifier } from './domain/intent/intent-classifier.ts';
import { Moderator } from './domain/moderation/moderator.ts';
import { Bots } from './domain/bots/bots.ts';
import { WaitingRoom } from './domain/bots/waiting-room.ts';
import type { Deps } from './domain/deps.ts';
import type { Services } from './domain/services.ts';
import { Hub } from './domain/hub.ts';
import { Router } from './domain/router.ts';
import { Closer } from './domain/closer.ts';
import { ReplyWatch } from './domain/reply-watch.ts';
import { Sweeper } from './domain/sweeper.ts';
import { Metrics } from './metrics/metrics.ts';
import { instrumentStore } from './metrics/instrument-store.ts';
import { createStore } from './store/index.ts';
import { createFileStore } from './store/files/index.ts';
import type { Store } from './store/types.ts';
import { Auth } from './transport/auth.ts';
import { registerHttp } from './transport/http.ts';
import { registerSockets } from './transport/sockets.ts';
import { registerWeb } from './transport/web.ts';
import { registerAdmin } from './transport/admin.ts';
import { registerDocs } from './transport/docs.ts';
import { applyHttpTimeouts, boundConnections, httpServerOptions } from './transport/server-bounds.ts';
import { Heartbeat } from './transport/heartbeat.ts';
import { MetricsAccess, metricsServer } from './transport/metrics-access.ts';
import { sendProblem } from './transport/problem.ts';
import { sendError } from './transport/http-error.ts';
import type { Server } from 'node:http';
import { registerUploads } from './transport/uploads.ts';
import { Uploads } from './domain/uploads.ts';
import { ContextHook } from './domain/context-hook.ts';
import { WebhookDeliverer } from './domain/webhooks/deliverer.ts';
import { ConfigSync } from './config/config-sync.ts';
import { LiveConfig, sharedPart } from './config/live-config.ts';
import { Ops } from './domain/ops.ts';
import type { Dashboard } from './domain/dashboard.ts';
import { InstanceWatch } from './domain/instances.ts';
import { Recovery } from './domain/recovery.ts';
import { LocalBuyerLimits } from './domain/buyer-limits.ts';

export interface GatewayOptions {
  config: Config;
  /** The config file it came from: watched, and read again on reload(). */
  configPath?: string;
  /** That file as written (its shared part is what other instances get); default: `config` itself. */
  configDoc?: Record<string, unknown>;
  logger?: Logger;
  /** Defaults to what the config names (Redis or the embedded store). */
  store?: Store;
  now?: () => number;
  classifier?: Classifier;
}

/** One gateway instance: HTTP + WebSocket server, domain services and their store. */
export class Gateway {
  private readonly live = new Map<WebSocket, Promise<void>>();
  private closing = false;

  private constructor(
    readonly app: FastifyInstance,
    readonly deps: Deps,
    readonly svc: Services,
    readonly sweeper: Sweeper,
    readonly webhooks: WebhookDeliverer,
    readonly auth: Auth,
    readonly configSync: ConfigSync,
    readonly instances: InstanceWatch,
    /** The ops dashboard's sampler of recent stats (runs while the app does). */
    readonly dashboard: Dashboard,
    private readonly ownsStore: boolean,
    private readonly heartbeat: Heartbeat,
    /** The listener of `server.metricsPort`, when /metrics has one of its own. */
    private readonly metricsListener: Server | undefined,
  ) {}

  /** The port /metrics is served on when it has a listener of its own (after listen()). */
  metricsPort: number | undefined;

  static async create(opts: GatewayOptions): Promise<Gateway> {
    const logger = opts.logger ?? pino({ level: 'info' });
    let secret = opts.config.auth.secret;
    if (!secret) {
      secret = randomBytes(32).toString('base64url');
      logger.warn('PEAKDESK_AUTH_SECRET is not set: generated a random secret, so no existing token will be accepted');
    }
    const metrics = new Metrics();
    const store = instrumentStore(opts.store ?? (await createStore(opts.config, logger)), metrics);
    const doc = sharedPart(opts.configDoc ?? (opts.config as unknown as Record<string, unknown>));
    const live = new LiveConfig(opts.config, doc, opts.configPath ? `file:${opts.configPath}` : 'startup');
    const config = () => live.get();
    const deps: Deps = {
      store,
      hub: new Hub(store.bus),
      config,
      classifier: opts.classifier ?? new IntentClassifier(config),
      moderator: new Moderator(config),
      files: await createFileStore(opts.config.uploads),
      logger,
      metrics,
      now: opts.now ?? Date.now,
      instanceId: randomUUID(),
    };
    const router = new Router(deps);
    const bots = new Bots(deps);
    const closer = new Closer(deps, router);
    const recovery = new Recovery(deps);
    const svc: Services = { router, bots, waitingRoom: new WaitingRoom(deps, bots), closer, recovery, buyerLimits: new LocalBuyerLimits(), uploads: new Uploads(deps), context: new ContextHook(deps) };
    const sweeper = new Sweeper(deps, router, closer, new ReplyWatch(deps, router));
    const webhooks = new WebhookDeliverer(deps);
    const auth = new Auth(secret);
    const instances = new InstanceWatch(deps, router, recovery);
    const sync = new ConfigSync(live, store, logger, opts.configPath);
    await sync.start();

    const app = Fastify({
      loggerInstance: logger as FastifyBaseLogger,
      // One log line per WebSocket upgrade would drown the state-change lines ops read.
      logController: new LogController({ disableRequestLogging: true }),
      return503OnClosing: true,
      ...httpServerOptions(config().server),
    }) as unknown as FastifyInstance;
    // ws closes with 1009 only far above the protocol limit; frames in between get `too_large`.
    await app.register(websocket, { options: { maxPayload: Math.max(1_048_576, config().server.maxFrameBytes * 4) } });
    boundConnections(app.server, app.websocketServer, () => config().server, metrics);
    live.onChange((s) => applyHttpTimeouts(app.server, s.config.server));
    await registerDocs(app);
    let sockets: Map<WebSocket, Promise<void>> | undefined;
    const heartbeat = new Heartbeat(() => sockets?.keys() ?? [], () => config().server.pingIntervalMs, metrics);
    const access = new MetricsAccess(opts.config.auth.metricsToken, auth);
    const ownMetricsPort = opts.config.server.metricsPort !== undefined;
    const metricsListener = ownMetricsPort ? metricsServer(metrics, access, opts.config.server) : undefined;
    const ops = new Ops(deps, svc);
    const gateway = new Gateway(app, deps, svc, sweeper, webhooks, auth, sync, instances, ops.dashboard, !opts.store, heartbeat, metricsListener);
    sockets = gateway.live;
    app.addHook('onRequest', async (req, reply) => {
      if (!gateway.closing || !req.url.startsWith('/v1/')) return;
      if (req.url.startsWith('/v1/admin/')) await sendProblem(reply, 503, 'unavailable', 'shutting down');
      else await sendError(reply, 503, 'unavailable', 'shutting down');
    });
    registerHttp(app, store, deps.metrics, access, !ownMetricsPort);
    registerSockets(app, { deps, svc, auth, live: gateway.live, heartbeat });
    await registerUploads(app, { deps, auth, uploads: svc.uploads });
    // The dashboard's sampler runs while the app does (listen or inject: both make it ready).
    app.addHook('onReady', async () => ops.dashboard.start());
    app.addHook('onClose', async () => {
      void ops.dashboard.stop(); // a sample under way ends on its own, or fails with the store
    });
    // Only shops with something going on: a scrape must not cost O(every shop ever seen).
    metrics.setQueueSource(async () => ops.queues(await store.activeShops()));
    await registerAdmin(app, { auth, ops, live, sync, webhooks, bodyLimit: config().server.maxBodyBytes });
    registerWeb(app);
    return gateway;
  }

  /** `announce`: the log line saying it accepts connections (workers of a primary say `worker listening`). */
  async listen(announce = 'listening'): Promise<number> {
    const { host, port } = this.deps.config().server;
    await this.instances.start();
    // Shops from before the index existed (an upgrade) are swept once, then age out if idle.
    await this.deps.store.reindexShops(this.deps.now(), { onlyIfEmpty: true });
    // Midnight brings thousands of connects a second; the default backlog (511) overflows.
    await this.app.listen({ host, port, backlog: 4096 });
    if (this.metricsListener) {
      const { metricsHost, metricsPort } = this.deps.config().server;
      const listener = this.metricsListener;
      await new Promise<void>((resolve, reject) => {
        listener.once('error', reject);
        listener.listen(metricsPort, metricsHost ?? host, () => resolve());
      });
      const a = listener.address();
      this.metricsPort = typeof a === 'object' && a ? a.port : metricsPort;
      this.deps.logger.info({ port: this.metricsPort, host: metricsHost ?? host }, 'metrics listening');
    }
    this.sweeper.start();
    this.webhooks.start();
    this.svc.waitingRoom.start();
    this.heartbeat.start();
    this.svc.uploads.start();
    const addr = this.app.server.address();
    const bound = typeof addr === 'object' && addr ? addr.port : port;
    this.deps.logger.info({ port: bound, host, store: this.deps.store.kind }, announce);
    return bound;
  }

  /**
   * Graceful stop: refuse new connections, close sockets with 1001 (Going Away), let their
   * clean-up (agent grace periods, unsubscribes) reach the store, then close the store.
   */
  async stop(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.heartbeat.stop();
    this.sweeper.stop();
    this.webhooks.stop();
    this.svc.waitingRoom.stop();
    this.svc.uploads.stop();
    await this.configSync.stop();
    for (const socket of this.live.keys()) socket.close(1001, 'server shutting down');
    const grace = this.deps.config().server.shutdownGraceMs;
    await Promise.race([Promise.allSettled([...this.live.values()]), new Promise((r) => setTimeout(r, grace).unref())]);
    await this.app.close();
    if (this.metricsListener?.listening) {
      this.metricsListener.closeAllConnections();
      await new Promise((r) => this.metricsListener!.close(r));
    }
    await this.svc.router.stop();
    await this.instances.leave().catch((err) => this.deps.logger.warn({ err }, 'leaving the instance list failed'));
    if (this.ownsStore) await this.deps.store.shutdown();
    this.deps.logger.info('stopped');
  }
}
