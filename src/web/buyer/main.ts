/**
 * Buyer chat widget (demo page). One chat with one shop: messages both ways, the place in
 * line while waiting, handover notices, a rating once the chat ends (or when the bot invites
 * one). The SDK's BuyerClient (src/client) resumes after a reconnect from the last seq shown
 * and resends messages not yet acked; the transcript and those messages are kept in
 * sessionStorage, so a reload keeps them too.
 */
import { BuyerClient } from '../../client/buyer-client.ts';
import { LineRefused } from '../../client/session-state.ts';
import { attachmentBox, byId, cardBox, h, onImage, keepAtBottom, onSend, persister, showStatus, toast, upload, withToken } from '../shared/dom.ts';
import { mountLangSwitch, stamp, t } from '../shared/i18n/index.ts';
import { toEvent, type BuyerServerFrame, type ErrorFrame, type TranscriptEvent } from '../../client/frames.ts';
import { commonElements, gatewayUrl, refusedText, signIn } from '../shared/signin.ts';
import type { Claims } from '../shared/token.ts';

interface Pending {
  clientMsgId: string;
  text: string;
  ts: number;
  failed?: string;
  /** Images uploaded for this line (with their `url`, to show them before the ack). */
  attachments?: NonNullable<TranscriptEvent['attachments']>;
}

/** Not a transcript event: shown after the event with seq `afterSeq`. */
interface Notice {
  afterSeq: number;
  text: string;
  ts: number;
}

interface State {
  sessionId: string | null;
  events: Map<number, TranscriptEvent>;
  notices: Notice[];
  pending: Pending[];
  queue?: { role: string; position: number; etaSeconds?: number };
  /** The team the chat is queued for or was handed to (from `queue` and `handover`). */
  role?: string;
  agentRole?: string;
  closed?: string;
  ratingInvited?: boolean;
  rated?: number;
}

type Saved = Omit<State, 'events'> & { events: TranscriptEvent[] };

let conn: BuyerClient | null = null;
let token = '';
let store: ReturnType<typeof persister<Saved>> | null = null;
let chosenScore = 0;

mountLangSwitch('buyer.title');

/** Role display names and the shop's name, from the welcome of a server that sends them. */
let roleNames: Record<string, string> = {};
const roleLabel = (r: string) => (Object.hasOwn(roleNames, r) ? roleNames[r]! : r);

let st: State = { sessionId: null, events: new Map(), notices: [], pending: [] };

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
const stars = el.rating.querySelector<HTMLElement>('.stars')!;
const ratingSubmit = el.rating.querySelector<HTMLButtonElement>('button[type=submit]')!;

// ---------------------------------------------------------------- start

/** Signed in (see the end of this file): restore this tab's chat and connect. */
function start(signedToken: string, claims: Claims): void {
  token = signedToken;
  store = persister<Saved>(`peakdesk.buyer.state.${claims.shop}.${claims.sub}`);
  const saved = store.load();
  if (saved) st = { ...saved, events: new Map(saved.events.map((e) => [e.seq, e])) };
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
  store?.save(() => ({ ...st, events: [...st.events.values()] }));
}

const lastSeqShown = () => Math.max(0, ...st.events.keys());

function notice(text: string): void {
  st.notices.push({ afterSeq: lastSeqShown(), text, ts: Date.now() });
}

// ---------------------------------------------------------------- frames

function onFrame(f: BuyerServerFrame): void {
  switch (f.type) {
    case 'welcome': {
      const extra = f as { roleNames?: Record<string, string>; shopName?: string };
      if (extra.roleNames) roleNames = { ...extra.roleNames };
      if (extra.shopName) el.shopName.textContent = extra.shopName;
      // The client resumes and resends by itself; a new conversation (the last one ended) starts a
      // clean transcript, and unsent lines go into it (see track()).
      if (st.sessionId !== f.sessionId) {
        st = { sessionId: f.sessionId, events: new Map(), notices: [], pending: st.pending };
        chosenScore = 0;
      }
      break;
    }
    case 'ack': {
      const i = st.pending.findIndex((p) => p.clientMsgId === f.clientMsgId);
      if (i < 0) return;
      const [p] = st.pending.splice(i, 1);
      if (!st.events.has(f.seq)) st.events.set(f.seq, { seq: f.seq, from: 'buyer', text: p!.text, ts: p!.ts, ...(p!.attachments ? { attachments: p!.attachments } : {}) });
      break;
    }
    case 'message':
      if (f.sessionId !== st.sessionId || st.events.has(f.seq)) return;
      st.events.set(f.seq, toEvent(f));
      if (f.from === 'agent') {
        delete st.queue;
        st.agentRole = f.role ?? st.role ?? st.agentRole ?? 'service';
      }
      if (f.kind === 'rating_invite') st.ratingInvited = true;
      break;
    case 'queue':
      if (f.sessionId !== st.sessionId) return;
      st.queue = { role: f.role, position: f.position, ...(f.etaSeconds !== undefined ? { etaSeconds: f.etaSeconds } : {}) };
      st.role = f.role;
      delete st.agentRole;
      break;
    case 'handover':
      if (f.sessionId !== st.sessionId) return;
      notice(t('buyer.handover', { from: roleLabel(f.fromRole), to: roleLabel(f.toRole) }));
      st.role = f.toRole;
      delete st.agentRole;
      delete st.queue;
      break;
    case 'closed':
      if (f.sessionId !== st.sessionId) return;
      st.closed = f.reason;
      delete st.queue;
      notice(f.reason === 'blocked' ? t('buyer.closedBlocked') : t('buyer.closed'));
      break;
    case 'error':
      onError(f);
      break;
    case 'pong':
      return;
  }
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

function statusText(): string {
  if (st.closed) return t('buyer.status.ended');
  if (st.agentRole) return t('buyer.status.agent', { role: roleLabel(st.agentRole) });
  if (st.queue) return t('buyer.status.waiting');
  return st.sessionId ? t('buyer.status.ask') : '';
}

function render(): void {
  el.statusLine.textContent = statusText();
  el.queue.hidden = !st.queue;
  if (st.queue) {
    const secs = st.queue.etaSeconds;
    const eta = secs !== undefined ? t('buyer.queue.eta', { eta: secs < 60 ? t('buyer.eta.sec', { n: secs }) : t('buyer.eta.min', { n: Math.round(secs / 60) }) }) : '';
    el.queue.dataset.position = String(st.queue.position);
    el.queue.replaceChildren(
      h('b', {}, st.queue.position === 1 ? t('buyer.queue.next') : t('buyer.queue.pos', { ahead: st.queue.position - 1 })),
      t('buyer.queue.for', { role: roleLabel(st.queue.role) }) + eta,
    );
  }
  keepAtBottom(el.transcript, () => {
    const items: { key: number; node: HTMLElement }[] = [];
    let prev: number | undefined;
    for (const e of [...st.events.values()].sort((a, b) => a.seq - b.seq)) {
      const who = e.from === 'buyer' ? t('from.you') : e.from === 'bot' ? t('from.bot') : `${t('buyer.agent')}${e.role ? ` · ${roleLabel(e.role)}` : ''}`;
      const when = stamp(e.ts, prev ?? e.ts);
      prev = e.ts;
      items.push({
        key: e.seq,
        node: h('li.msg', { class: `msg from-${e.from}${e.kind ? ` kind-${e.kind}` : ''}`, 'data-seq': e.seq }, h('div.meta', {}, `${who} · ${when}`), e.text ? h('div.text', {}, e.text) : null, e.card ? cardBox(e.card) : null, ...(e.attachments ?? []).map(image)),
      });
    }
    for (const n of st.notices) items.push({ key: n.afterSeq + 0.5, node: h('li.notice', {}, n.text) });
    items.sort((a, b) => a.key - b.key);
    const pending = st.pending.map((p) =>
      h(
        'li.msg',
        { class: `msg from-buyer pending${p.failed ? ' failed' : ''}` },
        h('div.meta', {}, p.failed ? t('buyer.notSent', { why: p.failed }) : t('buyer.sending')),
        p.text ? h('div.text', {}, p.text) : null,
        ...(p.attachments ?? []).map(image),
      ),
    );
    el.transcript.replaceChildren(...items.map((i) => i.node), ...pending);
  });
  renderRating();
  save();
}

/** An image of a line, loaded with the buyer's token. */
const image = (a: NonNullable<TranscriptEvent['attachments']>[number]) => attachmentBox(a, (u) => withToken(u, token));

/** The form takes room from the transcript: the invite line it answers stays in view above it (on a phone too). */
function keepInviteInView(): void {
  const invite = el.transcript.querySelector<HTMLElement>('.kind-rating_invite');
  if (!invite) return;
  const box = el.transcript.getBoundingClientRect();
  const line = invite.getBoundingClientRect();
  if (line.top < box.top || line.bottom > box.bottom) invite.scrollIntoView({ block: line.height > box.height ? 'start' : 'end' });
}

function renderRating(): void {
  const show = !!(st.closed || st.ratingInvited);
  el.rating.hidden = !show;
  if (!show) return;
  if (st.rated === undefined) requestAnimationFrame(keepInviteInView);
  const done = st.rated !== undefined;
  el.ratingDone.hidden = !done;
  el.ratingDone.dataset.score = String(st.rated ?? '');
  el.ratingDone.textContent = done ? (st.rated! > 0 ? t('buyer.rated', { score: st.rated! }) : t('buyer.ratedAlready')) : '';
  stars.hidden = done;
  el.ratingComment.hidden = done;
  ratingSubmit.hidden = done;
  ratingSubmit.disabled = chosenScore === 0;
  stars.replaceChildren(
    ...[1, 2, 3, 4, 5].map((n) => {
      const b = h('button.star', { type: 'button', role: 'radio', 'aria-checked': String(n === chosenScore), 'aria-label': t('buyer.star', { n }), 'data-score': n }, n <= chosenScore ? '★' : '☆');
      b.addEventListener('click', () => {
        chosenScore = n;
        renderRating();
      });
      return b;
    }),
  );
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
