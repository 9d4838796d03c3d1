import fengari from 'fengari';

const { to_jsstring } = fengari;
const encoder = new TextEncoder();

/** A Lua string (bytes) as a JS string; invalid UTF-8 becomes U+FFFD rather than throwing. */
export function jsString(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n < 48) {
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  return to_jsstring(bytes, 0, n, true);
}

/** A JS string as a Lua string (UTF-8); ASCII, the common case, without an encoder call. */
export function luaString(s: string): Uint8Array {
  const n = s.length;
  if (n > 64) return encoder.encode(s);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return encoder.encode(s);
    out[i] = c;
  }
  return out;
}
