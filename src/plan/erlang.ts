/**
 * Queueing formulas for staffing: Erlang C (M/M/n, nobody gives up) and Erlang A (M/M/n+M,
 * Palm's model with exponential patience, as analysed by Garnett, Mandelbaum and Reiman,
 * "Designing a call center with impatient customers", MSOM 4(3), 2002).
 *
 * Everything is computed from recursions in log space, never from factorials or powers, so
 * hundreds or thousands of servers neither overflow nor lose precision:
 *   - Erlang B by its recursion  B(0) = 1,  B(n) = A·B(n−1) / (n + A·B(n−1)), kept as log B;
 *   - Erlang C from B:  C = n·B / (n − A·(1 − B));
 *   - Erlang A from the birth–death chain, every state relative to "all n busy, nobody waiting":
 *     the states below n sum to 1/B − 1, the k-th waiting state is Π_{i≤k} λ/(nμ + iθ).
 *
 * Service level is the share of all arrivals that reach a server within T: a buyer who gives
 * up, at whatever time, counts as missed. Average speed of answer is the mean wait of those
 * who are answered (the zero waits included), as in Erlang C where everyone is answered.
 */

export interface QueueInput {
  /** Arrivals per second. */
  arrivalRate: number;
  /** Mean time a server is busy with one arrival, in seconds. */
  handleSeconds: number;
  /** Servers (agents × sessions each may hold at once). */
  servers: number;
  /** Mean patience in seconds (exponential); undefined or Infinity: nobody gives up (Erlang C). */
  patienceSeconds?: number | undefined;
  /** The service-level threshold T in seconds. */
  answerWithinSeconds: number;
}

export interface QueueOutcome {
  model: 'erlang-c' | 'erlang-a';
  /** Offered load λ·h in Erlangs. */
  intensity: number;
  /** P(an arrival has to wait at all). */
  probabilityOfWaiting: number;
  /** Share of arrivals answered within T. */
  serviceLevel: number;
  /** Mean wait of answered arrivals, seconds (Infinity when the queue grows without bound). */
  averageSpeedOfAnswerSeconds: number;
  /** Share of arrivals that give up before they are answered. */
  abandonment: number;
  /** Share of server time busy: answered load / servers (≤ 1). */
  occupancy: number;
}

/** ln B(n, A) by the Erlang B recursion, continued from (`from`, `logB`). */
export function logErlangB(servers: number, intensity: number, from = 0, logBFrom = 0): number {
  if (intensity <= 0) return servers === 0 ? 0 : -Infinity;
  const logA = Math.log(intensity);
  let logB = logBFrom;
  for (let n = from + 1; n <= servers; n++) {
    // B(n) = A·B / (n + A·B); A·B may underflow to 0, which is then exactly right.
    const ab = Math.exp(logA + logB);
    logB = logA + logB - Math.log(n + ab);
  }
  return logB;
}

export function erlangB(servers: number, intensity: number): number {
  return Math.exp(logErlangB(servers, intensity));
}

/** Probability of waiting in M/M/n; 1 when the servers cannot keep up (n ≤ A). */
export function erlangC(servers: number, intensity: number): number {
  return erlangCFromB(servers, intensity, erlangB(servers, intensity));
}

function erlangCFromB(n: number, a: number, b: number): number {
  if (a <= 0) return 0;
  if (n <= a) return 1;
  return Math.min(1, (n * b) / (n - a * (1 - b)));
}

/** ln Σ exp(x_i), without overflow. */
function logAdd(x: number, y: number): number {
  if (x === -Infinity) return y;
  if (y === -Infinity) return x;
  const m = Math.max(x, y);
  return m + Math.log(Math.exp(x - m) + Math.exp(y - m));
}

function checkInput(q: QueueInput): void {
  const bad = (what: string) => {
    throw new RangeError(what);
  };
  if (!(q.arrivalRate >= 0) || !Number.isFinite(q.arrivalRate)) bad(`arrival rate must be a finite number ≥ 0, got ${q.arrivalRate}`);
  if (!(q.handleSeconds > 0) || !Number.isFinite(q.handleSeconds)) bad(`handle time must be a finite number > 0, got ${q.handleSeconds}`);
  if (!Number.isInteger(q.servers) || q.servers < 0) bad(`servers must be an integer ≥ 0, got ${q.servers}`);
  if (!(q.answerWithinSeconds >= 0) || !Number.isFinite(q.answerWithinSeconds)) bad(`answer-within must be a finite number ≥ 0, got ${q.answerWithinSeconds}`);
  if (q.patienceSeconds !== undefined && !(q.patienceSeconds >= 0)) bad(`patience must be ≥ 0, got ${q.patienceSeconds}`);
}

const idle = (model: QueueOutcome['model']): QueueOutcome => ({
  model,
  intensity: 0,
  probabilityOfWaiting: 0,
  serviceLevel: 1,
  averageSpeedOfAnswerSeconds: 0,
  abandonment: 0,
  occupancy: 0,
});

/** M/M/n: SL = 1 − C·e^{−(n−A)·T/h}, ASA = C·h/(n − A), occupancy A/n. */
export function erlangCOutcome(q: QueueInput, logB?: number): QueueOutcome {
  checkInput(q);
  const a = q.arrivalRate * q.handleSeconds;
  if (a === 0) return idle('erlang-c');
  const n = q.servers;
  if (n <= a) {
    return { model: 'erlang-c', intensity: a, probabilityOfWaiting: 1, serviceLevel: 0, averageSpeedOfAnswerSeconds: Infinity, abandonment: 0, occupancy: 1 };
  }
  const c = erlangCFromB(n, a, Math.exp(logB ?? logErlangB(n, a)));
  return {
    model: 'erlang-c',
    intensity: a,
    probabilityOfWaiting: c,
    serviceLevel: Math.max(0, 1 - c * Math.exp((-(n - a) * q.answerWithinSeconds) / q.handleSeconds)),
    averageSpeedOfAnswerSeconds: (c * q.handleSeconds) / (n - a),
    abandonment: 0,
    occupancy: a / n,
  };
}

/** More waiting states than this (near-infinite patience on an overloaded queue) is refused. */
const MAX_QUEUE_STATES = 2_000_000;

/**
 * M/M/n+M. A buyer who arrives with k already waiting holds place m = k+1; from place j it
 * leaves at rate nμ + jθ (a server frees up, someone ahead gives up, or it gives up itself),
 * so it is answered with probability nμ/(nμ + mθ), after a wait Σ_{j≤m} Exp(nμ + jθ) whose
 * tail is a negative-binomial sum: P(wait > T) = P(K ≤ m−1) for K ~ NB(nμ/θ + 1, e^{−θT}).
 */
export function erlangAOutcome(q: QueueInput, logB?: number): QueueOutcome {
  checkInput(q);
  const patience = q.patienceSeconds ?? Infinity;
  if (patience === Infinity) return erlangCOutcome(q, logB);
  const lambda = q.arrivalRate;
  const a = lambda * q.handleSeconds;
  if (a === 0) return idle('erlang-a');
  const n = q.servers;
  const mu = 1 / q.handleSeconds;
  const nmu = n * mu;
  if (patience === 0 || n === 0) {
    // Nobody waits: an arrival finding every server busy is lost (Erlang B).
    const lost = n === 0 ? 1 : Math.exp(logB ?? logErlangB(n, a));
    return { model: 'erlang-a', intensity: a, probabilityOfWaiting: lost, serviceLevel: 1 - lost, averageSpeedOfAnswerSeconds: 0, abandonment: lost, occupancy: n === 0 ? 0 : (a * (1 - lost)) / n };
  }
  const theta = 1 / patience;
  const lb = logB ?? logErlangB(n, a);

  // log q_k for k = 0.. (q_0 = 1: all n busy, nobody waiting), until the rest is negligible.
  const logQ: number[] = [0];
  let logSum = 0;
  for (let k = 1; ; k++) {
    const ratio = lambda / (nmu + k * theta);
    const next = logQ[k - 1]! + Math.log(ratio);
    logQ.push(next);
    logSum = logAdd(logSum, next);
    // Past the peak the terms fall at least geometrically by `ratio`: bound the tail by that.
    if (ratio < 1 && next + Math.log(ratio / (1 - ratio)) < logSum - 39) break;
    if (k >= MAX_QUEUE_STATES) throw new RangeError(`patience ${patience}s is too long for Erlang A at ${a.toFixed(1)} Erlangs on ${n} servers; leave it out to use Erlang C`);
  }
  // π_n relative to the whole: 1 / (1/B − 1 + Σ_k q_k).
  const logBelow = -lb + Math.log1p(-Math.exp(lb)); // ln(1/B − 1) = ln((1 − B)/B)
  const logPn = -logAdd(logBelow, logSum);

  // P(K ≤ m−1) for K ~ NB(r = nμ/θ + 1, x = e^{−θT}), built up term by term in log space.
  const T = q.answerWithinSeconds;
  const r = nmu / theta + 1;
  const log1mx = Math.log(-Math.expm1(-theta * T)); // ln(1 − x)
  let logTerm = -(nmu + theta) * T; // ln t_0 = r·ln x
  let cdf = 0;
  let harmonic = 0;
  let waiting = 0;
  let answeredWithin = 0;
  let abandon = 0;
  let waitAnswered = 0;
  for (let k = 0; k < logQ.length; k++) {
    const m = k + 1;
    const p = Math.exp(logPn + logQ[k]!);
    if (T === 0) cdf = 1;
    else {
      cdf += Math.exp(logTerm);
      logTerm += Math.log((r - 1 + m) / m) + log1mx;
    }
    harmonic += 1 / (nmu + m * theta);
    const answered = nmu / (nmu + m * theta);
    waiting += p;
    abandon += p * (1 - answered);
    answeredWithin += p * answered * Math.max(0, 1 - cdf);
    waitAnswered += p * answered * harmonic;
  }
  // Computed from its own terms, not as 1 − P(wait): that difference loses everything near 1.
  const noWait = Math.exp(logPn + logBelow);
  const answeredShare = 1 - abandon;
  return {
    model: 'erlang-a',
    intensity: a,
    probabilityOfWaiting: Math.min(1, waiting),
    serviceLevel: Math.min(1, noWait + answeredWithin),
    averageSpeedOfAnswerSeconds: answeredShare > 0 ? waitAnswered / answeredShare : Infinity,
    abandonment: Math.min(1, abandon),
    occupancy: Math.min(1, (a * answeredShare) / n),
  };
}

/** Erlang A when a patience is given, Erlang C otherwise. */
export function queueOutcome(q: QueueInput, logB?: number): QueueOutcome {
  return q.patienceSeconds === undefined || q.patienceSeconds === Infinity ? erlangCOutcome(q, logB) : erlangAOutcome(q, logB);
}
