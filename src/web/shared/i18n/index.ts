/**
 * The pages' language: Simplified Chinese unless the user picked English (remembered in
 * localStorage). `t()` looks a key up in the chosen catalogue; elements with `data-i18n`
 * (text), `data-i18n-placeholder`, `data-i18n-title` or `data-i18n-aria` get theirs from
 * `translatePage()`.
 */
import { en } from './en.ts';
import { zhCN, type Catalogue, type MessageKey } from './zh-CN.ts';

export type { MessageKey } from './zh-CN.ts';
export type Lang = 'zh-CN' | 'en';

export const CATALOGUES: Record<Lang, Catalogue> = { 'zh-CN': zhCN, en };
export const LANG_KEY = 'peakdesk.lang';

function stored(): Lang {
  try {
    return localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'zh-CN';
  } catch {
    return 'zh-CN';
  }
}

let current: Lang = typeof localStorage === 'undefined' ? 'zh-CN' : stored();

export function lang(): Lang {
  return current;
}

/** For tests and the switch; the switch also remembers it. */
export function setLang(l: Lang): void {
  current = l;
}

export function t(key: MessageKey, vars: Record<string, string | number> = {}): string {
  return CATALOGUES[current][key].replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

/** A session's end reason in words; an unknown reason is shown as it came. */
export function reasonText(reason: string): string {
  const key = `reason.${reason}` as MessageKey;
  return key in CATALOGUES[current] ? t(key) : reason;
}

/** The time of `ts`; with the day (month-day) when it is not `ref`'s calendar day, so a chat across midnight reads right. */
export function stamp(ts: number, ref: number = Date.now()): string {
  const d = new Date(ts);
  const time = formats().time.format(d);
  const r = new Date(ref);
  const sameDay = d.getFullYear() === r.getFullYear() && d.getMonth() === r.getMonth() && d.getDate() === r.getDate();
  return sameDay ? time : `${formats().day.format(d)} ${time}`;
}

// toLocaleTimeString builds a formatter per call, which dominated rendering thousands of lines.
let cached: { lang: Lang; time: Intl.DateTimeFormat; day: Intl.DateTimeFormat } | null = null;
function formats(): NonNullable<typeof cached> {
  if (cached?.lang !== current) {
    cached = {
      lang: current,
      time: new Intl.DateTimeFormat(current, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false }),
      day: new Intl.DateTimeFormat(current, { month: '2-digit', day: '2-digit' }),
    };
  }
  return cached;
}

/** "1分05秒" / "1m 5s": how long something has waited. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? t('time.sec', { n: s }) : t('time.min', { m: Math.floor(s / 60), s: String(s % 60).padStart(2, '0') });
}

export function translatePage(root: ParentNode = document): void {
  document.documentElement.lang = current;
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n]')) el.textContent = t(el.dataset.i18n as MessageKey);
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n-placeholder]')) el.setAttribute('placeholder', t(el.dataset.i18nPlaceholder as MessageKey));
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle as MessageKey);
  for (const el of root.querySelectorAll<HTMLElement>('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria as MessageKey));
}

/**
 * The language picker in the top bar (`#lang`, a select): translating a live page in place
 * would need every view to re-render, so a change is remembered and the page reloads
 * (sessionStorage keeps the chats, so nothing is lost).
 */
export function mountLangSwitch(titleKey: MessageKey): void {
  translatePage();
  document.title = t(titleKey);
  const select = document.getElementById('lang') as HTMLSelectElement | null;
  if (!select) return;
  select.replaceChildren(
    ...(Object.keys(CATALOGUES) as Lang[]).map((l) => {
      const o = document.createElement('option');
      o.value = l;
      o.textContent = CATALOGUES[l]['lang.name'];
      o.selected = l === current;
      return o;
    }),
  );
  select.addEventListener('change', () => {
    try {
      localStorage.setItem(LANG_KEY, select.value);
    } catch {
      /* private mode: the choice lasts this page only */
    }
    location.reload();
  });
}
