/**
 * Picks the role queue a new session enters from the buyer's first message
 * (IntentClassifier in intent/intent-classifier.ts; defaultRoleClassifier when routing is
 * not wanted).
 */
export interface Classification {
  role: string;
  /** a rule matched (vs. the default role) */
  matched: boolean;
  keywords: string[];
}

export interface Classifier {
  classify(shop: string, text: string): Classification;
}

/** Every session goes to the default role. */
export function defaultRoleClassifier(defaultRole: () => string): Classifier {
  return { classify: () => ({ role: defaultRole(), matched: false, keywords: [] }) };
}
