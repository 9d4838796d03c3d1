/**
 * Server-sent events as the live view sends them (`event: <type>` and one `data: <JSON>` line
 * per event, a blank line after each): the complete events at the front of `buf`, and what is
 * left of it (an event still arriving). Comment lines (keepalives) are skipped.
 */
export function takeEvents(buf: string): { events: { type: string; data: unknown }[]; rest: string } {
  const events: { type: string; data: unknown }[] = [];
  let at: number;
  while ((at = buf.indexOf('\n\n')) >= 0) {
    const block = buf.slice(0, at);
    buf = buf.slice(at + 2);
    const type = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (type && data) events.push({ type, data: JSON.parse(data) });
  }
  return { events, rest: buf };
}
