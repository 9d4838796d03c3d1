/**
 * Picks the role queue a new session enters from the buyer's first message. The intent
 * rules of a later issue plug in here; until then every session goes to the default role.
 */
export interface Classifier {
  classify(shop: string, text: string): string;
}

export function defaultRoleClassifier(defaultRole: () => string): Classifier {
  return { classify: () => defaultRole() };
}
