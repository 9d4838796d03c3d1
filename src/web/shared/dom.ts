import type { Attachment } from '../../protocol/frames.ts';
import type { ConnStatus } from '../../client/socket.ts';
import { t } from './i18n/index.ts';

type Child = Node | string | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined>;

/** `h('button.primary', { onclick }, 'Send')`: an element with classes, attributes, listeners, children. */
export function h<K extends keyof HTMLElementTagNameMap>(spec: K | `${K}.${string}`, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const [tag, ...classes] = spec.split('.') as [K, ...string[]];
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** A product or order card of a message (PROTOCOL v1.1 `card`). */
export function cardBox(c: { kind: string; id: string; title: string; price?: number | string; imageUrl?: string; url?: string; status?: string }): HTMLElement {
  const img = c.imageUrl && /^https?:|^\//.test(c.imageUrl) ? h('img', { src: c.imageUrl, alt: '', loading: 'lazy', width: 56, height: 56 }) : null;
  const title = c.url && /^https?:|^\//.test(c.url) ? h('a', { href: c.url, target: '_blank', rel: 'noopener noreferrer' }, c.title) : h('b', {}, c.title);
  return h(
    'div.card-box',
    { 'data-kind': c.kind, 'data-id': c.id },
    img,
    h('div', {}, title, c.price !== undefined ? h('div.price', {}, `¥ ${c.price}`) : null, h('div.muted.small', {}, c.status ? `${c.id} · ${c.status}` : c.id)),
  );
}

/**
 * An uploaded file of a message: the image when the server gives its `url`, else its name and
 * size. `src` turns that url into one the browser can load (the file needs the reader's token).
 */
export function attachmentBox(a: { id: string; contentType: string; name?: string; size: number; url?: string }, src: (url: string) => string = (u) => u): HTMLElement {
  const label = `${a.name ?? a.id} · ${Math.max(1, Math.round(a.size / 1024))} KB`;
  if (a.url && a.contentType.startsWith('image/') && /^https?:|^\//.test(a.url)) {
    const url = src(a.url);
    return h('a.attachment', { href: url, target: '_blank', rel: 'noopener noreferrer', title: label }, h('img', { src: url, alt: a.name ?? '', loading: 'lazy', 'data-id': a.id }));
  }
  return h('span.attachment.muted.small', { 'data-id': a.id }, label);
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from the page`);
  return el as T;
}

export function clock(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Shows a short notice in `#toasts` for a few seconds. */
export function toast(text: string, kind: 'info' | 'error' = 'info'): void {
  const box = document.getElementById('toasts');
  if (!box) return;
  const t = h('div.toast', { role: kind === 'error' ? 'alert' : 'status' }, text);
  if (kind === 'error') t.classList.add('error');
  box.append(t);
  setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
}

/** Renders the connection state into a status pill (`data-state` drives its colour). */
export function showStatus(pill: HTMLElement, s: ConnStatus): void {
  pill.dataset.state = s.state;
  clearInterval(Number(pill.dataset.timer ?? 0));
  switch (s.state) {
    case 'connecting':
      pill.textContent = s.attempt ? t('conn.reconnecting') : t('conn.connecting');
      break;
    case 'open':
      pill.textContent = t('conn.open');
      break;
    case 'stopped':
      pill.textContent = t('conn.stopped');
      break;
    case 'refused':
      pill.textContent = t('conn.refused', { status: s.httpStatus });
      break;
    case 'waiting': {
      const tick = () => {
        const secs = Math.max(0, Math.ceil((s.retryAt - Date.now()) / 1000));
        const what = s.reason === 'unreachable' ? t('conn.unreachable') : s.everOpened ? t('conn.lost') : t('conn.cannot');
        pill.textContent = t('conn.retryIn', { what, secs });
      };
      tick();
      pill.dataset.timer = String(setInterval(tick, 500));
      break;
    }
  }
}

/** Keeps a scrolled list pinned to its end if the reader was already there. */
export function keepAtBottom(list: HTMLElement, render: () => void): void {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  render();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

/** A reply box: submitting `form`, or Enter in `text` (Shift+Enter is a new line; not while an IME composes), calls `send`. */
export function onSend(form: HTMLFormElement, text: HTMLTextAreaElement, send: () => void): void {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    send();
  });
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      send();
    }
  });
}

/** A tiny debounced JSON persister for sessionStorage. */
export function persister<T>(key: string): { load(): T | null; save(value: () => T): void; clear(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return {
    load() {
      try {
        const raw = sessionStorage.getItem(key);
        return raw ? (JSON.parse(raw) as T) : null;
      } catch {
        return null;
      }
    },
    save(value) {
      clearTimeout(timer);
      timer = setTimeout(() => {
        try {
          sessionStorage.setItem(key, JSON.stringify(value()));
        } catch {
          /* full or unavailable: the page still works, it just forgets on reload */
        }
      }, 150);
    },
    clear() {
      clearTimeout(timer);
      try {
        sessionStorage.removeItem(key);
      } catch {
        /* ignore */
      }
    },
  };
}

/** An image of the clipboard or of a drop (the first one), or null. */
function imageOf(items: DataTransfer | null): File | null {
  for (const f of items?.files ?? []) if (f.type.startsWith('image/')) return f;
  return null;
}

/** Calls `send` with an image pasted into `text`, dropped onto `area` or picked with the file input `pick`. */
export function onImage(text: HTMLElement, area: HTMLElement, pick: HTMLInputElement, send: (file: File) => void): void {
  text.addEventListener('paste', (e) => {
    const file = imageOf(e.clipboardData);
    if (!file) return;
    e.preventDefault();
    send(file);
  });
  area.addEventListener('dragover', (e) => {
    if ([...(e.dataTransfer?.items ?? [])].some((i) => i.kind === 'file')) e.preventDefault();
  });
  area.addEventListener('drop', (e) => {
    const file = imageOf(e.dataTransfer);
    if (!file) return;
    e.preventDefault();
    send(file);
  });
  pick.addEventListener('change', () => {
    const file = pick.files?.[0];
    pick.value = '';
    if (file) send(file);
  });
}

/** `POST /v1/uploads` (multipart field `file`) with the page's token; `query` e.g. `?sessionId=…` for an agent. */
/** The answer of POST /v1/uploads: the server's sniffed type, never the client's. */
type Uploaded = Attachment & { url: string };

export async function upload(file: Blob, token: string, query = ''): Promise<Uploaded> {
  const form = new FormData();
  form.append('file', file, (file as File).name || 'image');
  const res = await fetch(`/v1/uploads${query}`, { method: 'POST', body: form, headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json().catch(() => ({}))) as { id?: string; contentType?: string; size?: number; url?: string; message?: string };
  if (!res.ok || !body.id) throw new Error(body.message ?? `HTTP ${res.status}`);
  return body as Uploaded;
}

/** A file url with the reader's token (an <img> cannot send a header), and more query parameters. */
export function withToken(url: string, token: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({ token, ...extra });
  return `${url}${url.includes('?') ? '&' : '?'}${q}`;
}
