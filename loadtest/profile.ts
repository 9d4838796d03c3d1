/**
 * The Double 11 arrival profile: a pre-heat trickle at a base rate, then at "midnight" the
 * rate jumps to `spikeMultiple` × base and decays exponentially back towards the base:
 *
 *   rate(t) = base                                      for t < t0
 *   rate(t) = base · (1 + (M − 1) · e^(−(t − t0)/τ))    for t ≥ t0
 *
 * Given the number of buyers N over the duration D, either τ is fixed (default D/12) and the
 * base rate follows from N, or the peak rate is fixed (`--spike-rate`) and τ follows from N.
 * Arrival times are spaced evenly in cumulative intensity (with a little jitter), so the
 * counts per second follow the curve closely at any scale.
 */

export interface ProfileOptions {
  buyers: number;
  durationS: number;
  spikeMultiple: number;
  /** Where midnight falls, as a share of the duration (default 0.3). */
  spikeAt?: number;
  /** Decay time constant in seconds; derived from spikeRate when that is given. */
  decayS?: number;
  /** Peak arrivals per second at midnight; fixes base = spikeRate / spikeMultiple. */
  spikeRate?: number;
}

export interface Profile {
  buyers: number;
  durationS: number;
  baseRate: number;
  peakRate: number;
  spikeMultiple: number;
  spikeAtS: number;
  decayS: number;
  /** A note when the requested shape could not be met exactly. */
  note?: string;
}

/** Arrivals expected in [0, t]. */
export function cumulative(p: Omit<Profile, 'buyers' | 'note' | 'peakRate'>, t: number): number {
  const { baseRate: b, spikeMultiple: m, spikeAtS: t0, decayS: tau } = p;
  if (t <= t0) return b * t;
  const dt = t - t0;
  return b * t + b * (m - 1) * tau * (1 - Math.exp(-dt / tau));
}

export function rateAt(p: Profile, t: number): number {
  if (t < p.spikeAtS) return p.baseRate;
  return p.baseRate * (1 + (p.spikeMultiple - 1) * Math.exp(-(t - p.spikeAtS) / p.decayS));
}

export function makeProfile(o: ProfileOptions): Profile {
  const D = o.durationS;
  const M = Math.max(1, o.spikeMultiple);
  const t0 = Math.min(D, Math.max(0, (o.spikeAt ?? 0.3) * D));
  const rest = D - t0;
  let note: string | undefined;
  let tau = o.decayS ?? Math.max(1, D / 12);
  let base: number;
  const spikeArea = (tt: number) => (M - 1) * tt * (1 - Math.exp(-rest / tt));
  if (o.spikeRate !== undefined && M > 1) {
    base = o.spikeRate / M;
    // Solve base · (D + spikeArea(τ)) = N for τ (spikeArea grows with τ).
    const need = o.buyers / base - D;
    if (need <= 0) {
      tau = 0.5;
      base = o.buyers / (D + spikeArea(tau));
      note = `the base rate alone brings more than ${o.buyers} buyers; base lowered to ${base.toFixed(1)}/s`;
    } else if (spikeArea(1e6) < need) {
      tau = 1e6;
      base = o.buyers / (D + spikeArea(tau));
      note = `the spike cannot bring ${o.buyers} buyers within ${D}s; base raised to ${base.toFixed(1)}/s`;
    } else {
      let lo = 0.01;
      let hi = 1e6;
      for (let i = 0; i < 200; i++) {
        const mid = Math.sqrt(lo * hi);
        if (spikeArea(mid) < need) lo = mid;
        else hi = mid;
      }
      tau = hi;
    }
  } else {
    base = o.buyers / (D + spikeArea(tau));
  }
  return { buyers: o.buyers, durationS: D, baseRate: base, peakRate: base * M, spikeMultiple: M, spikeAtS: t0, decayS: tau, ...(note ? { note } : {}) };
}

/** Arrival time (seconds from start) of every buyer, sorted. `rand` in [0, 1). */
export function arrivalTimes(p: Profile, rand: () => number): number[] {
  const total = cumulative(p, p.durationS);
  const out: number[] = new Array(p.buyers);
  let t = 0;
  for (let i = 0; i < p.buyers; i++) {
    const target = ((i + 0.25 + 0.5 * rand()) / p.buyers) * total;
    // cumulative() is increasing: bisection from the previous arrival.
    let lo = t;
    let hi = p.durationS;
    for (let k = 0; k < 50 && hi - lo > 1e-6; k++) {
      const mid = (lo + hi) / 2;
      if (cumulative(p, mid) < target) lo = mid;
      else hi = mid;
    }
    t = hi;
    out[i] = t;
  }
  return out;
}

/** Expected arrivals per whole second, for the report's "planned" curve. */
export function plannedPerSecond(p: Profile): number[] {
  const out: number[] = [];
  for (let s = 0; s < Math.ceil(p.durationS); s++) out.push(cumulative(p, Math.min(p.durationS, s + 1)) - cumulative(p, s));
  return out;
}

/** Small deterministic PRNG (mulberry32), so a seed reproduces a run's choices. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Log-normal sample with the given median and shape σ. */
export function lognormal(rand: () => number, median: number, sigma: number): number {
  const u1 = Math.max(1e-12, rand());
  const u2 = rand();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return median * Math.exp(sigma * z);
}

export function pick<T>(rand: () => number, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length) % items.length]!;
}

export function weighted<T extends string>(rand: () => number, weights: Record<T, number>): T {
  const entries = Object.entries(weights) as [T, number][];
  const sum = entries.reduce((s, [, w]) => s + w, 0);
  let x = rand() * sum;
  for (const [k, w] of entries) {
    x -= w;
    if (x < 0) return k;
  }
  return entries.at(-1)![0];
}
