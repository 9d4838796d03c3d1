/**
 * The sign-in every page shares: the top bar (who is signed in, the connection pill, "Sign out")
 * and the form a token is pasted into. A token kept for the tab (or given as `?token=`) that
 * is of the page's kind and not expired starts the page at once; otherwise the form shows,
 * with the reason when there was a token. The gateway still verifies every token.
 */
import type { ConnStatus } from '../../client/socket.ts';
import { byId } from './dom.ts';
import { t } from './i18n/index.ts';
import { TokenStore, decodeClaims, tokenProblem, type Claims } from './token.ts';

/** The elements every page has, by the same ids. */
export interface CommonElements {
  /** The connection pill. */
  conn: HTMLElement;
  who: HTMLElement;
  signout: HTMLButtonElement;
  signin: HTMLElement;
  signinForm: HTMLFormElement;
  tokenInput: HTMLTextAreaElement;
  signinError: HTMLElement;
}

export function commonElements(): CommonElements {
  return {
    conn: byId('conn'),
    who: byId('who'),
    signout: byId<HTMLButtonElement>('signout'),
    signin: byId('signin'),
    signinForm: byId<HTMLFormElement>('signin-form'),
    tokenInput: byId<HTMLTextAreaElement>('token-input'),
    signinError: byId('signin-error'),
  };
}

export interface SigninOptions {
  /** The kind of token the page takes. */
  kind: Claims['kind'];
  /** Where the tab keeps the token (sessionStorage), one key per page. */
  storageKey: string;
  el: CommonElements;
  /** What is shown once signed in (and hidden while the form is). */
  app: HTMLElement;
  /** How the page says a pasted token is refused: `<refusal>: <problem>.` */
  refusal?: string;
  /** Runs once signed in, with a token of the right kind (never expired at that point). */
  start(token: string, claims: Claims): void;
  /** Runs before the token is forgotten and the page reloaded on "Sign out". */
  signout?(): void;
  /** Runs when the form is shown again (see `Signin.show`), before it is. */
  stop?(): void;
}

export interface Signin {
  /** Forgets the token and shows the form again, with `reason` under it. */
  show(reason?: string): void;
}

/** Wires the form and "Sign out", then starts the page or shows the form. */
export function signIn(opts: SigninOptions): Signin {
  const { el, kind, app } = opts;
  const tokens = new TokenStore(opts.storageKey);

  function show(reason?: string): void {
    opts.stop?.();
    tokens.clear();
    if (reason) el.signinError.textContent = reason;
    el.signin.hidden = false;
    app.hidden = true;
    el.signout.hidden = true;
    el.who.textContent = '';
  }

  function start(token: string): void {
    const claims = decodeClaims(token)!;
    el.signin.hidden = true;
    app.hidden = false;
    el.signout.hidden = false;
    el.who.textContent = `${claims.sub} · ${claims.shop}`;
    opts.start(token, claims);
  }

  el.signinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = el.tokenInput.value.trim();
    const problem = tokenProblem(value, kind);
    if (problem) {
      el.signinError.textContent = `${opts.refusal ?? t('common.cannotSignIn')}: ${problem}.`;
      return;
    }
    el.signinError.textContent = '';
    tokens.save(value);
    start(value);
  });

  el.signout.addEventListener('click', () => {
    opts.signout?.();
    tokens.clear();
    location.reload();
  });

  const stored = tokens.load();
  const problem = stored ? tokenProblem(stored, kind) : null;
  if (stored && !problem) start(stored);
  else show(problem ? t('common.storedUnusable', { problem }) : undefined);
  return { show };
}

/** The gateway's WebSocket address for `path`, on the host that served the page. */
export function gatewayUrl(path: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${path}`;
}

/** What the sign-in form says when the gateway refused the token (HTTP 401/403 on the upgrade). */
export function refusedText(s: Extract<ConnStatus, { state: 'refused' }>, kind: Claims['kind']): string {
  return t('common.refused', { status: s.httpStatus, message: s.message ? `: ${s.message}` : '', kind: t(`common.kind.${kind}`) });
}
