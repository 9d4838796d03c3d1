/**
 * Buyer chat widget (demo page). One chat with one shop: messages both ways, the place in
 * line while waiting, handover notices, a rating once the chat ends (or when the bot invites
 * one). The SDK's BuyerClient (src/client) resumes after a reconnect from the last seq shown
 * and resends messages not yet acked; the transcript and those messages are kept in
 * sessionStorage, so a reload keeps them too.
 */
import { BuyerClient } from '../../client/buyer-client.ts';
import { LineRefused } from '../../client/session-state.ts';
import { byId, onImage, onSend, persister, showStatus, toast, upload } from '../shared/dom.ts';
import { mountLangSwitch, t } from '../shared/i18n/index.ts';
import type { BuyerServerFrame, ErrorFrame } from '../../client/frames.ts';
import { apply, initialState, restore, toSaved, type Pending, type Saved } from './state.ts';
import { render as draw, renderRating as drawRating, type ViewOptions } from './view.ts';
import { commonElements, gatewayUrl, refusedText, signIn } from '../shared/signin.ts';
import type { Claims } from '../shared/token.ts';

let conn: BuyerClient | null = null;
let token = '';
let store: ReturnType<typeof persister<Saved>> | null = null;
let chosenScore = 0;

mountLangSwitch('buyer.title');

let st = initialState();

const el = {
  ...commonElements(),
  widget: byId('widget'),
  statusLine: byId('status-line'),
  queue: byId('queue'),
  transcript: byId('transcript'),
  rating: byId<HTMLFormElement>('rating'),
  ratingComment: byId<HTMLInputElement>('rating-comment'),
  ratingDone: byId('rating-done'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLTextAreaElement>('text'),
  attach: byId<HTMLInputElement>('attach'),
  shopName: byId('shop-name'),
};

// ---------------------------------------------------------------- start

/** Signed in (see the end of this file): restore this tab's chat and connect. */
function start(signedToken: string, claims: Claims): void {
  token = signedToken;
  store = persister<Saved>(`peakdesk.buyer.state.${claims.shop}.${claims.sub}`);
  const saved = store.load();
  if (saved) st = restore(saved);
  render();
  conn = new BuyerClient({
    url: gatewayUrl(''),
    token: () => token,
    onFrame,
    onStatus: (s) => {
      showStatus(el.conn, s);
      if (s.state === 'refused') signin.show(refusedText(s, 'buyer'));
    },
  });
  if (st.sessionId) conn.restore(st.sessionId, st.events.keys());
  for (const p of st.pending) if (!p.failed) track(p, conn.say(p.text, p.clientMsgId, extrasOf(p)).acked);
  conn.start();
  (window as unknown as { __peakdesk: unknown }).__peakdesk = { drop: () => conn?.drop(), state: () => st };
}

function save(): void {
  store?.save(() => toSaved(st));
}

// ---------------------------------------------------------------- frames

function onFrame(f: BuyerServerFrame): void {
  if (f.type === 'pong') return;
  if (f.type === 'error') onError(f);
  else for (const e of apply(st, f)) if (e.kind === 'new_session') chosenScore = 0;
  render();
}

/**
 * A line's fate: acked (the `ack` frame moves it into the transcript), refused for good
 * (marked, with a retry button's worth of text), or given up because its session ended while
 * the buyer was away: then it is said again, into the new conversation.
 */
function track(p: Pending, acked: Promise<number>): void {
  acked.catch((err: unknown) => {
    if (!st.pending.includes(p)) return;
    if (err instanceof LineRefused && err.code === 'session_gone' && conn) {
      // An image belongs to the session it was uploaded for: only the text goes again.
      delete p.attachments;
      if (!p.text) {
        st.pending.splice(st.pending.indexOf(p), 1);
        render();
        return;
      }
      const again = conn.say(p.text);
      p.clientMsgId = again.clientMsgId;
      track(p, again.acked);
    } else p.failed = err instanceof Error ? err.message : String(err);
    render();
  });
}

function onError(f: ErrorFrame): void {
  if (f.code === 'blocked') {
    conn?.stop();
    el.statusLine.textContent = t('buyer.status.blocked');
    toast(f.message, 'error');
    return;
  }
  if (f.ref === 'rate') {
    if (f.code === 'bad_state') st.rated = st.rated ?? -1;
    toast(t('buyer.rateNotSaved', { why: f.message }), 'error');
    return;
  }
  // A line refused for now (store down, rate limit) goes again by itself; one refused for good
  // is marked by track().
  if (f.ref && st.pending.some((x) => x.clientMsgId === f.ref) && (f.code === 'unavailable' || f.code === 'rate_limited')) return;
  toast(t('common.error', { code: f.code, message: f.message }), 'error');
}

// ---------------------------------------------------------------- render

const viewOptions = (): ViewOptions => ({
  token,
  chosenScore,
  onStar: (n) => {
    chosenScore = n;
    drawRating(el, st, viewOptions());
  },
});

function render(): void {
  draw(el, st, viewOptions());
  save();
}

el.rating.addEventListener('submit', (e) => {
  e.preventDefault();
  if (!chosenScore) return;
  const comment = el.ratingComment.value.trim();
  if (!conn?.send({ type: 'rate', score: chosenScore, ...(comment ? { comment } : {}) })) return toast(t('buyer.offlineTry'), 'error');
  // The gateway answers a rating only when it refuses it.
  st.rated = chosenScore;
  render();
});

function sendText(): void {
  const text = el.text.value.trim();
  if (!text) return;
  if (!conn) return;
  say(text);
  el.text.value = '';
}

/** A line as the frame carries it besides the text: the images without their `url`. */
function extrasOf(p: Pending) {
  return p.attachments ? { attachments: p.attachments.map(({ url: _url, ...a }) => a) } : {};
}

function say(text: string, attachments?: Pending['attachments']): void {
  const p: Pending = { clientMsgId: '', text, ts: Date.now(), ...(attachments ? { attachments } : {}) };
  const line = conn!.say(text, undefined, extrasOf(p));
  p.clientMsgId = line.clientMsgId;
  st.pending.push(p);
  track(p, line.acked);
  render();
  el.transcript.scrollTop = el.transcript.scrollHeight;
}

/** Uploads an image (POST /v1/uploads, for the buyer's open session), then sends it. */
async function sendImage(file: File): Promise<void> {
  if (!conn || st.closed) return;
  toast(t('buyer.uploading'));
  try {
    const up = await upload(file, token);
    say('', [{ id: up.id, contentType: up.contentType, size: up.size, url: up.url, ...(file.name ? { name: file.name.slice(0, 200) } : {}) }]);
  } catch (err) {
    toast(t('buyer.uploadFailed', { why: (err as Error).message }), 'error');
  }
}

onSend(el.composer, el.text, sendText);
onImage(el.text, el.composer, el.attach, (file) => void sendImage(file));

const signin = signIn({
  kind: 'buyer',
  storageKey: 'peakdesk.buyer.token',
  el,
  app: el.widget,
  refusal: t('common.cannotStart'),
  start,
  signout: () => {
    conn?.stop();
    store?.clear();
  },
});
