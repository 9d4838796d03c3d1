/**
 * Making an offer impossible to miss: a short beep (Web Audio, muted by the user's choice,
 * remembered), a desktop notification while the page is hidden (permission asked once, on the
 * first click, as browsers require a gesture), and a count in the title and on the favicon.
 */
const MUTE_KEY = 'peakdesk.agent.muted';
const ASKED_KEY = 'peakdesk.agent.notifyAsked';

let audio: AudioContext | null = null;

export function muted(): boolean {
  try {
    return localStorage.getItem(MUTE_KEY) === '1';
  } catch {
    return false;
  }
}

export function setMuted(m: boolean): void {
  try {
    localStorage.setItem(MUTE_KEY, m ? '1' : '0');
  } catch {
    /* remembered for this page only */
  }
}

export function beep(): void {
  if (muted()) return;
  try {
    audio ??= new AudioContext();
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.2, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.35);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.35);
  } catch {
    /* no audio device: the title and favicon still show it */
  }
}

/** Asks for notification permission once per browser, from a user gesture. */
export function askNotifyOnce(): void {
  if (typeof Notification === 'undefined' || Notification.permission !== 'default') return;
  try {
    if (localStorage.getItem(ASKED_KEY)) return;
    localStorage.setItem(ASKED_KEY, '1');
  } catch {
    /* ask anyway */
  }
  void Notification.requestPermission().catch(() => {});
}

export function notify(title: string, body: string, tag: string): void {
  if (!document.hidden || typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(title, { body, tag });
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    /* some platforms only allow notifications from a service worker */
  }
}

let lastBadge = '';

/** Title prefix `(n)` and a red dot with n on the favicon (drawn, so no image file is needed). */
export function badge(count: number, title: string, countTitle: string): void {
  const want = count ? countTitle : title;
  if (document.title !== want) document.title = want;
  const label = count ? (count > 9 ? '9+' : String(count)) : 'P';
  if (label === lastBadge) return;
  lastBadge = label;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 32;
  const g = canvas.getContext('2d');
  if (!g) return;
  g.fillStyle = '#ff5000';
  g.beginPath();
  g.roundRect(2, 2, 28, 28, 6);
  g.fill();
  g.fillStyle = '#fff';
  g.font = 'bold 18px sans-serif';
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(label, 16, 17);
  let link = document.querySelector<HTMLLinkElement>('link[rel="icon"]');
  if (!link) {
    link = document.createElement('link');
    link.rel = 'icon';
    document.head.append(link);
  }
  link.href = canvas.toDataURL('image/png');
  link.dataset.count = String(count);
}
