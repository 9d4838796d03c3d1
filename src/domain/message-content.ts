import { PeakError } from '../protocol/errors.ts';
import type { Attachment, Card } from '../protocol/frames.ts';
import type { FileStore } from '../store/files/file-store.ts';
import { UPLOAD_ID, uploadUrl } from '../store/files/file-store.ts';
import type { MessageExtras } from '../store/types.ts';

/** What a buyer or agent `message` frame carries (at least one of them; the schema checks). */
export interface MessageContent {
  text?: string;
  card?: Card;
  attachments?: Attachment[];
}

/** The text the classifier and the FAQ read: the words, else the card's title. */
export function routingText(c: MessageContent): string {
  return c.text ?? c.card?.title ?? '';
}

/**
 * The card and attachments as stored. Each attachment must be an upload of this sender, in
 * this shop, for this session; its type and size are the upload's, not what the client says.
 * A plain line (no card, no attachment: nearly every line) gets `undefined` at once, not a
 * promise to wait for.
 */
export function storedExtras(
  files: FileStore,
  shop: string,
  sender: { kind: 'buyer' | 'agent'; id: string },
  sessionId: string,
  c: MessageContent,
): Promise<MessageExtras> | undefined {
  if (!c.card && !c.attachments?.length) return undefined;
  return checkedExtras(files, shop, sender, sessionId, c);
}

async function checkedExtras(
  files: FileStore,
  shop: string,
  sender: { kind: 'buyer' | 'agent'; id: string },
  sessionId: string,
  c: MessageContent,
): Promise<MessageExtras> {
  const out: MessageExtras = {};
  if (c.card) out.card = c.card;
  if (c.attachments?.length) {
    out.attachments = await Promise.all(
      c.attachments.map(async (a) => {
        const meta = UPLOAD_ID.test(a.id) ? await files.head(shop, a.id) : null;
        if (!meta || meta.uploader.kind !== sender.kind || meta.uploader.id !== sender.id) {
          throw new PeakError('forbidden', `attachment ${a.id} is not an upload of yours`);
        }
        if (meta.sessionId !== sessionId) throw new PeakError('forbidden', `attachment ${a.id} was uploaded for another session`);
        return { id: meta.id, contentType: meta.contentType, size: meta.size, url: uploadUrl(meta.id), ...(a.name ? { name: a.name } : {}) };
      }),
    );
  }
  return out;
}
