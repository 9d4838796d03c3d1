/**
 * Canned phrases per role: the gateway's (config `workbench.quickReplies`, sent in every agent
 * `welcome` as `quickReplies`), then a few phrases that fit any role. A welcome replaces the
 * lists of the roles it names.
 */

const COMMON = ['还有其他可以帮您的吗？', '感谢您的耐心等待～'];

let fromServer: Record<string, string[]> = {};

export function quickRepliesFor(role: string): string[] {
  return [...(fromServer[role] ?? []), ...COMMON];
}

/** Takes whatever well-formed lists `raw` has; returns whether anything changed. */
export function setQuickReplies(raw: unknown): boolean {
  if (!raw || typeof raw !== 'object') return false;
  let changed = false;
  for (const [role, list] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    const phrases = list.filter((x): x is string => typeof x === 'string' && x.length > 0 && x.length <= 2000);
    fromServer = { ...fromServer, [role]: phrases };
    changed = true;
  }
  return changed;
}
