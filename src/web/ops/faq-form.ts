/**
 * The config editor's form for what ops change at night: FAQ entries (`bots.faq`) and intent
 * keywords (`intent.rules[].keywords`), for every shop or one shop's override
 * (`shops.<id>.…`). It reads and writes the document in the JSON editor, checks the lists with
 * the server's own zod schemas (src/config/bots-schema.ts) before sending anything, and then
 * applies the whole document as the editor would (the gateway validates it again, all or
 * nothing). Regular-expression patterns are kept as they are (edited in the JSON).
 */
import { z } from 'zod';
import { faqEntrySchema, intentRuleSchema } from '../../config/bots-schema.ts';
import { byId, h } from '../shared/dom.ts';
import { t } from '../shared/i18n/index.ts';

type Doc = Record<string, unknown>;
interface FaqRow { keywords: string; answer: string; queue: boolean }
interface RuleRow { role: string; keywords: string; patterns: string[] }

export interface FaqFormDeps {
  /** The document in the editor (null when it does not parse). */
  doc: () => Doc | null;
  /** Puts the document in the editor and applies it. */
  apply: (doc: Doc) => Promise<void>;
  roles: () => string[];
  roleLabel: (role: string) => string;
  /** The shop a shop's token may change; null for a platform token's "every shop". */
  scopes: () => (string | null)[];
}

const faqList = z.array(faqEntrySchema);
const ruleList = z.array(intentRuleSchema);
const obj = (v: unknown): Doc => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Doc) : {});
const words = (s: string) => s.split(/[,，、;；]/).map((w) => w.trim()).filter(Boolean);

/** Where the two lists live in the document for a scope (null = global). */
function base(doc: Doc, shop: string | null, create: boolean): { bots: Doc; intent: Doc } | null {
  let root = doc;
  if (shop !== null) {
    const shops = obj(doc.shops);
    if (!Object.hasOwn(shops, shop) && !create) return null;
    root = obj(shops[shop]);
    if (create) doc.shops = { ...shops, [shop]: root };
  }
  const bots = obj(root.bots);
  const intent = obj(root.intent);
  if (create) {
    root.bots = bots;
    root.intent = intent;
  }
  return { bots, intent };
}

export function mountFaqForm(d: FaqFormDeps): { load(): void } {
  const scope = byId<HTMLSelectElement>('faq-scope');
  const faqBox = byId('faq-rows');
  const ruleBox = byId('rule-rows');
  const problems = byId('faq-problems');
  let faqs: FaqRow[] = [];
  let rules: RuleRow[] = [];
  /** The lists the scope had when loaded: a shop override that had none and still has none stays absent. */
  let had = { faq: false, rules: false };

  const current = (): string | null => (scope.value === '' ? null : scope.value);

  function load(): void {
    const scopes = d.scopes();
    const want = scopes.map((s) => s ?? '');
    if ([...scope.options].map((o) => o.value).join('\n') !== want.join('\n')) {
      const keep = scope.value;
      scope.replaceChildren(...scopes.map((s) => h('option', { value: s ?? '' }, s === null ? t('ops.form.scopeGlobal') : t('ops.form.scopeShop', { shop: s }))));
      if (want.includes(keep)) scope.value = keep;
    }
    const doc = d.doc();
    const at = doc ? base(doc, current(), false) : null;
    const faq = Array.isArray(at?.bots.faq) ? (at!.bots.faq as { keywords?: string[]; answer?: string; queue?: boolean }[]) : null;
    const rs = Array.isArray(at?.intent.rules) ? (at!.intent.rules as { role?: string; keywords?: string[]; patterns?: string[] }[]) : null;
    had = { faq: faq !== null, rules: rs !== null };
    faqs = (faq ?? []).map((f) => ({ keywords: (f.keywords ?? []).join(', '), answer: f.answer ?? '', queue: f.queue ?? true }));
    rules = (rs ?? []).map((r) => ({ role: r.role ?? '', keywords: (r.keywords ?? []).join(', '), patterns: r.patterns ?? [] }));
    problems.replaceChildren();
    problems.hidden = true;
    render();
  }

  function render(): void {
    faqBox.replaceChildren(
      ...faqs.map((f, i) =>
        h(
          'div.form-row',
          { 'data-faq': i },
          h('input.faq-keywords', { value: f.keywords, placeholder: t('ops.form.keywords'), 'aria-label': t('ops.form.keywords'), oninput: (e: Event) => (f.keywords = (e.target as HTMLInputElement).value) }),
          h('textarea.faq-answer', { rows: 2, placeholder: t('ops.form.answer'), 'aria-label': t('ops.form.answer'), oninput: (e: Event) => (f.answer = (e.target as HTMLTextAreaElement).value) }, f.answer),
          h('label.small', {}, h('input', { type: 'checkbox', checked: f.queue, onchange: (e: Event) => (f.queue = (e.target as HTMLInputElement).checked) }), ' ', t('ops.form.queue')),
          h('button.ghost', { type: 'button', onclick: () => (faqs.splice(i, 1), render()) }, t('ops.form.remove')),
        ),
      ),
    );
    ruleBox.replaceChildren(
      ...rules.map((r, i) => {
        const roles = [...new Set([...d.roles(), ...(r.role ? [r.role] : [])])];
        return h(
          'div.form-row',
          { 'data-rule': i },
          h('select.rule-role', { 'aria-label': t('ops.form.role'), onchange: (e: Event) => (r.role = (e.target as HTMLSelectElement).value) }, ...roles.map((x) => h('option', { value: x, selected: x === r.role }, d.roleLabel(x)))),
          h('input.rule-keywords', { value: r.keywords, placeholder: t('ops.form.keywords'), 'aria-label': t('ops.form.keywords'), oninput: (e: Event) => (r.keywords = (e.target as HTMLInputElement).value) }),
          r.patterns.length ? h('span.muted.small', {}, t('ops.form.patternsKept', { n: r.patterns.length })) : null,
          h('button.ghost', { type: 'button', onclick: () => (rules.splice(i, 1), render()) }, t('ops.form.remove')),
        );
      }),
    );
  }

  async function submit(): Promise<void> {
    problems.replaceChildren();
    problems.hidden = true;
    const faqValue = faqs.map((f) => ({ keywords: words(f.keywords), answer: f.answer.trim(), queue: f.queue }));
    const ruleValue = rules.map((r) => ({ role: r.role || (d.roles()[0] ?? ''), keywords: words(r.keywords), patterns: r.patterns }));
    const issues = [
      ...(faqList.safeParse(faqValue).error?.issues.map((i) => ({ path: ['faq', ...i.path].join('.'), message: i.message })) ?? []),
      ...(ruleList.safeParse(ruleValue).error?.issues.map((i) => ({ path: ['intent.rules', ...i.path].join('.'), message: i.message })) ?? []),
    ];
    if (issues.length) {
      problems.replaceChildren(h('p', {}, h('b', {}, t('ops.form.invalid', { n: issues.length }))), h('ul', {}, ...issues.map((p) => h('li', { 'data-path': p.path }, h('code.path', {}, p.path), ' ', p.message))));
      problems.hidden = false;
      return;
    }
    const doc = d.doc();
    if (!doc) return;
    const at = base(doc, current(), true)!;
    if (faqValue.length || had.faq) at.bots.faq = faqValue;
    if (ruleValue.length || had.rules) at.intent.rules = ruleValue;
    // An override scope created only to hold nothing would change nothing; leave it out.
    if (current() !== null) {
      const shop = obj(obj(doc.shops)[current()!]);
      if (!Object.keys(obj(shop.bots)).length) delete shop.bots;
      if (!Object.keys(obj(shop.intent)).length) delete shop.intent;
    }
    await d.apply(doc);
    load();
  }

  scope.addEventListener('change', load);
  byId('faq-add').addEventListener('click', () => (faqs.push({ keywords: '', answer: '', queue: true }), render()));
  byId('rule-add').addEventListener('click', () => (rules.push({ role: d.roles()[0] ?? '', keywords: '', patterns: [] }), render()));
  byId('faq-apply').addEventListener('click', () => void submit());
  return { load };
}
