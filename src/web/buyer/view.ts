/**
 * Draws the buyer widget from its state (state.ts): status line, place in line, transcript with
 * notices and lines not acked yet, and the rating form. No state of its own but the DOM.
 */
import { attachmentBox, cardBox, h, keepAtBottom, withToken } from '../shared/dom.ts';
import { stamp, t } from '../shared/i18n/index.ts';
import { roleLabel, status, type Attachments, type BuyerState, type Notice } from './state.ts';

export interface BuyerElements {
  statusLine: HTMLElement;
  queue: HTMLElement;
  transcript: HTMLElement;
  rating: HTMLFormElement;
  ratingComment: HTMLInputElement;
  ratingDone: HTMLElement;
  shopName: HTMLElement;
}

export interface ViewOptions {
  token: string;
  /** The star the buyer picked and has not sent yet (0: none). */
  chosenScore: number;
  onStar(n: number): void;
}

function noticeText(s: BuyerState, n: Notice): string {
  if (n.kind === 'handover') return t('buyer.handover', { from: roleLabel(s, n.fromRole), to: roleLabel(s, n.toRole) });
  return n.blocked ? t('buyer.closedBlocked') : t('buyer.closed');
}

export function render(el: BuyerElements, s: BuyerState, o: ViewOptions): void {
  const st = status(s);
  el.statusLine.textContent = st ? t(st.key, st.role !== undefined ? { role: st.role } : {}) : '';
  if (s.shopName) el.shopName.textContent = s.shopName;
  el.queue.hidden = !s.queue;
  if (s.queue) {
    const secs = s.queue.etaSeconds;
    const eta = secs !== undefined ? t('buyer.queue.eta', { eta: secs < 60 ? t('buyer.eta.sec', { n: secs }) : t('buyer.eta.min', { n: Math.round(secs / 60) }) }) : '';
    el.queue.dataset.position = String(s.queue.position);
    el.queue.replaceChildren(
      h('b', {}, s.queue.position === 1 ? t('buyer.queue.next') : t('buyer.queue.pos', { ahead: s.queue.position - 1 })),
      t('buyer.queue.for', { role: roleLabel(s, s.queue.role) }) + eta,
    );
  }
  /** An image of a line, loaded with the buyer's token. */
  const image = (a: Attachments[number]) => attachmentBox(a, (u) => withToken(u, o.token));
  keepAtBottom(el.transcript, () => {
    const items: { key: number; node: HTMLElement }[] = [];
    let prev: number | undefined;
    for (const e of [...s.events.values()].sort((a, b) => a.seq - b.seq)) {
      const who = e.from === 'buyer' ? t('from.you') : e.from === 'bot' ? t('from.bot') : `${t('buyer.agent')}${e.role ? ` · ${roleLabel(s, e.role)}` : ''}`;
      const when = stamp(e.ts, prev ?? e.ts);
      prev = e.ts;
      items.push({
        key: e.seq,
        node: h('li.msg', { class: `msg from-${e.from}${e.kind ? ` kind-${e.kind}` : ''}`, 'data-seq': e.seq }, h('div.meta', {}, `${who} · ${when}`), e.text ? h('div.text', {}, e.text) : null, e.card ? cardBox(e.card) : null, ...(e.attachments ?? []).map(image)),
      });
    }
    for (const n of s.notices) items.push({ key: n.afterSeq + 0.5, node: h('li.notice', {}, noticeText(s, n)) });
    items.sort((a, b) => a.key - b.key);
    const pending = s.pending.map((p) =>
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
  renderRating(el, s, o);
}

/** The form takes room from the transcript: the invite line it answers stays in view above it (on a phone too). */
function keepInviteInView(el: BuyerElements): void {
  const invite = el.transcript.querySelector<HTMLElement>('.kind-rating_invite');
  if (!invite) return;
  const box = el.transcript.getBoundingClientRect();
  const line = invite.getBoundingClientRect();
  if (line.top < box.top || line.bottom > box.bottom) invite.scrollIntoView({ block: line.height > box.height ? 'start' : 'end' });
}

export function renderRating(el: BuyerElements, s: BuyerState, o: ViewOptions): void {
  const stars = el.rating.querySelector<HTMLElement>('.stars')!;
  const submit = el.rating.querySelector<HTMLButtonElement>('button[type=submit]')!;
  const show = !!(s.closed || s.ratingInvited);
  el.rating.hidden = !show;
  if (!show) return;
  if (s.rated === undefined) requestAnimationFrame(() => keepInviteInView(el));
  const done = s.rated !== undefined;
  el.ratingDone.hidden = !done;
  el.ratingDone.dataset.score = String(s.rated ?? '');
  el.ratingDone.textContent = done ? (s.rated! > 0 ? t('buyer.rated', { score: s.rated! }) : t('buyer.ratedAlready')) : '';
  stars.hidden = done;
  el.ratingComment.hidden = done;
  submit.hidden = done;
  submit.disabled = o.chosenScore === 0;
  stars.replaceChildren(
    ...[1, 2, 3, 4, 5].map((n) => {
      const b = h('button.star', { type: 'button', role: 'radio', 'aria-checked': String(n === o.chosenScore), 'aria-label': t('buyer.star', { n }), 'data-score': n }, n <= o.chosenScore ? '★' : '☆');
      b.addEventListener('click', () => o.onStar(n));
      return b;
    }),
  );
}
