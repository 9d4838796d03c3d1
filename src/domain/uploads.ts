import { randomUUID } from 'node:crypto';
import { fileTypeFromBuffer } from 'file-type';
import { PeakError } from '../protocol/errors.ts';
import { IMAGE_TYPES, type Attachment } from '../protocol/frames.ts';
import { UPLOAD_ID, uploadUrl, type UploadMeta } from '../store/files/file-store.ts';
import { LocalBuyerLimits, bucketKeys } from './buyer-limits.ts';
import type { Deps } from './deps.ts';
import { Periodic } from './periodic.ts';

/** Who is asking, as the token says. */
export interface Reader {
  kind: 'buyer' | 'agent' | 'admin';
  id: string;
  shop: string;
}

/** The bytes are not one of the accepted image types (HTTP 415). */
export class NotAnImage extends PeakError {
  constructor(found: string | undefined) {
    super('bad_frame', `file: only ${IMAGE_TYPES.join(', ')} are accepted (the content is ${found ?? 'not a known type'})`);
  }
}

const NO_SHOP_BUCKET = { perSecond: 0, burst: 1 };

/**
 * Images on messages: stored for one session of one sender, readable by the session's buyer,
 * the agents that held it and the shop's admins, for as long as the session itself is.
 */
export class Uploads {
  private readonly limits = new LocalBuyerLimits();
  private readonly sweeper: Periodic;

  constructor(private readonly d: Deps) {
    this.sweeper = new Periodic(
      () => d.config().uploads.sweepIntervalMs,
      () => this.sweep().then(() => undefined),
    );
  }

  start(): void {
    this.sweeper.start();
  }

  stop(): void {
    this.sweeper.stop();
  }

  /**
   * Whether another upload of this sender fits its bucket (checked before the body is read):
   * the bucket in the store, shared by every instance; this instance's copy only refuses
   * early, without a round trip, a sender it has already seen over the limit.
   */
  async admit(who: Reader): Promise<void> {
    const { perBuyer } = this.d.config().uploads;
    const sender = `${who.kind}:${who.id}`;
    if (!this.limits.admit(bucketKeys(who.shop, sender), this.d.now(), { buyer: perBuyer, shop: NO_SHOP_BUCKET })) {
      throw new PeakError('rate_limited', 'too many uploads; slow down');
    }
    await this.d.store.limitUploads(who.shop, sender, this.d.now(), perBuyer);
  }

  /**
   * Stores an image for the sender's session: a buyer's open one (as connecting would find
   * it), or for an agent the session `sessionId` it holds. The type is what the bytes are.
   */
  async put(who: Reader, body: Buffer, sessionId: string | undefined): Promise<UploadMeta & { url: string }> {
    if (who.kind === 'admin') throw new PeakError('forbidden', 'only buyers and agents upload files');
    const sniffed = await fileTypeFromBuffer(body);
    const contentType = IMAGE_TYPES.find((t) => t === sniffed?.mime);
    if (!contentType) throw new NotAnImage(sniffed?.mime);
    const sid = who.kind === 'buyer' ? (await this.d.store.openSession(who.shop, who.id, this.d.now())).sessionId : await this.heldSession(who, sessionId);
    const meta: UploadMeta = {
      id: randomUUID(),
      shop: who.shop,
      contentType: contentType as Attachment['contentType'],
      size: body.length,
      uploader: { kind: who.kind, id: who.id },
      sessionId: sid,
      createdAt: this.d.now(),
    };
    await this.d.files.put(meta, body);
    this.d.logger.info({ shop: who.shop, sessionId: sid, upload: meta.id, contentType, size: meta.size }, 'file uploaded');
    return { ...meta, url: uploadUrl(meta.id) };
  }

  private async heldSession(who: Reader, sessionId: string | undefined): Promise<string> {
    if (!sessionId) throw new PeakError('bad_frame', 'sessionId: an agent uploads for a session it holds');
    const s = await this.d.store.getSession(who.shop, sessionId);
    if (!s) throw new PeakError('unknown_session', `no session ${sessionId}`);
    if (s.state !== 'assigned' || s.agentId !== who.id) throw new PeakError('not_assigned', `session ${sessionId} is not assigned to you`);
    return sessionId;
  }

  /**
   * The file for `who`, or `unknown_session` (404) when it does not exist or its session is
   * gone (retention over), `forbidden` (403) for anyone but the session's people. `via`: a
   * session the agent holds now; with it, the files of that buyer's past sessions (its history)
   * are readable too.
   */
  async read(who: Reader, id: string, via?: string): Promise<{ meta: UploadMeta; body: Buffer }> {
    const file = UPLOAD_ID.test(id) ? await this.d.files.get(who.shop, id) : null;
    if (!file) throw new PeakError('unknown_session', `no file ${id}`);
    const s = await this.d.store.getSession(who.shop, file.meta.sessionId);
    if (!s) throw new PeakError('unknown_session', `no file ${id}`);
    const agents = new Set([s.agentId, s.lastAgentId, ...s.handovers.map((h) => h.agentId)]);
    const allowed = who.kind === 'admin' || (who.kind === 'buyer' ? s.buyerId === who.id : agents.has(who.id) || (await this.holdsBuyer(who, via, s.buyerId)));
    if (!allowed) throw new PeakError('forbidden', `file ${id} belongs to a session you are not part of`);
    return file;
  }

  /** Whether the agent holds (or is offered) session `via` of this buyer. */
  private async holdsBuyer(who: Reader, via: string | undefined, buyerId: string): Promise<boolean> {
    if (!via) return false;
    const held = await this.d.store.getSession(who.shop, via);
    return held !== null && held.agentId === who.id && (held.state === 'assigned' || held.state === 'offered') && held.buyerId === buyerId;
  }

  /** Deletes files older than any session can be kept: open for `openTtlMs`, then retained. */
  async sweep(): Promise<number> {
    const { uploads, sessions } = this.d.config();
    const before = this.d.now() - sessions.openTtlMs - sessions.retentionMs;
    try {
      return await this.d.files.sweep(before, uploads.sweepLimit);
    } catch (err) {
      this.d.logger.warn({ err }, 'sweeping old uploads failed');
      return 0;
    }
  }
}
