/** The repository root (with a trailing slash). */
export const root: string;
/** Whether dist/ is older than its sources (false when there are no sources, as in the image). */
export function distIsStale(): boolean;
