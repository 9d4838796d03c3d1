import type { IntentConfig } from '../../config/bots-schema.ts';
import type { Config } from '../../config/schema.ts';
import { resolveShop } from '../../config/shop-config.ts';
import type { Classification, Classifier } from '../classifier.ts';
import { KeywordMatcher } from '../text/keyword-matcher.ts';
import { normalize, toSimplified } from '../text/normalize.ts';

interface CompiledIntent {
  /** Every keyword of every rule; value = [rule index, keyword's normalized form]. */
  keywords: KeywordMatcher<{ rule: number; key: string }>;
  patterns: { rule: number; re: RegExp }[];
  roles: string[];
}

/**
 * Compiled rules, per `intent` object. resolveShop hands every shop without its own rules
 * the same global object, so thousands of shops share one compiled matcher, and a new
 * config object (reload) gets freshly compiled rules.
 */
const compiled = new WeakMap<IntentConfig, CompiledIntent>();

function compile(intent: IntentConfig): CompiledIntent {
  let c = compiled.get(intent);
  if (!c) {
    c = {
      keywords: new KeywordMatcher(
        intent.rules.flatMap((r, rule) => r.keywords.map((keyword) => ({ keyword, value: { rule, key: normalize(keyword) } }))),
      ),
      patterns: intent.rules.flatMap((r, rule) => r.patterns.map((p) => ({ rule, re: compilePattern(p) }))),
      roles: intent.rules.map((r) => r.role),
    };
    compiled.set(intent, c);
  }
  return c;
}

/**
 * Patterns run on normalized (simplified) text, so traditional characters in a pattern are
 * simplified too; were that ever to make it invalid (a character-class range whose ends
 * convert out of order), the pattern is used as written.
 */
function compilePattern(p: string): RegExp {
  try {
    return new RegExp(toSimplified(p), 'iu');
  } catch {
    return new RegExp(p, 'iu');
  }
}

/**
 * Routes a buyer's first message to a role by the shop's intent rules. A rule's score is
 * the number of its distinct keywords found plus the number of its patterns that match;
 * the highest score wins, a tie goes to the earlier rule, and no match at all gives the
 * shop's default role.
 */
export class IntentClassifier implements Classifier {
  constructor(private readonly config: () => Config) {}

  classify(shop: string, text: string): Classification {
    const sc = resolveShop(this.config(), shop);
    const c = compile(sc.intent);
    if (c.roles.length === 0) return { role: sc.defaultRole, matched: false, keywords: [] };
    const norm = normalize(text);
    const scores = new Array<number>(c.roles.length).fill(0);
    const found = c.roles.map(() => new Map<string, string>()); // normalized key → keyword as configured
    for (const hit of c.keywords.find(norm)) {
      const seen = found[hit.value.rule]!;
      if (!seen.has(hit.value.key)) {
        seen.set(hit.value.key, hit.keyword);
        scores[hit.value.rule]!++;
      }
    }
    for (const { rule, re } of c.patterns) if (re.test(norm)) scores[rule]!++;
    let best = -1;
    let bestScore = 0;
    scores.forEach((s, i) => {
      if (s > bestScore) {
        best = i;
        bestScore = s;
      }
    });
    if (best < 0) return { role: sc.defaultRole, matched: false, keywords: [] };
    return { role: c.roles[best]!, matched: true, keywords: [...found[best]!.values()] };
  }
}
