import { createRequire } from 'node:module';
import fengari from 'fengari';

const require = createRequire(import.meta.url);

type Slot = { type: number; value: unknown; setnilvalue(): void } | undefined;
interface State {
  top: number;
  stack: Slot[];
  stack_last: number;
  hookmask: number;
  ci: CallInfo;
}
interface CallInfo {
  funcOff: number;
  nresults: number;
  func: unknown;
  top: number;
  l_base: number;
  l_code: unknown;
  l_savedpc: number;
  callstatus: number;
  previous: CallInfo;
  next: CallInfo | null;
}

let patched = false;

/**
 * fengari's call path allocates a fresh nil TValue for every stack slot a call exposes and
 * `delete`s every slot a return hides; with the store's scripts (big main chunks, a dozen
 * small local functions called per step) that was the engine's largest cost. Slots above the
 * top are dead: the Lua API never reads them, closures keep their own TValues (luaF_close
 * swaps fresh ones in before a frame with closures goes). So these versions of adjust_top,
 * luaD_precall and luaD_poscall (the ones the VM calls through its module objects) nil and
 * reuse a dead slot's TValue and leave hidden slots in place. Anything unusual (hooks, vararg
 * functions, __call) takes fengari's own path.
 */
export function speedUpFengariCalls(): void {
  if (patched) return;
  patched = true;
  const ldo = require('fengari/src/ldo.js');
  const lstate = require('fengari/src/lstate.js');
  const { TValue, setobjs2s } = require('fengari/src/lobject.js');
  const { LUA_TNIL, LUA_TLCL, LUA_TLCF, LUA_TCCL } = require('fengari/src/defs.js').constant_types;
  const { LUA_MINSTACK, LUA_MULTRET } = fengari.lua;
  const CIST_LUA = lstate.CIST_LUA;

  const fill = (L: State, newtop: number) => {
    const stack = L.stack;
    while (L.top < newtop) {
      const o = stack[L.top];
      if (o === undefined) stack[L.top] = new TValue(LUA_TNIL, null);
      else {
        o.type = LUA_TNIL;
        o.value = null;
      }
      L.top++;
    }
  };
  const adjustTop = (L: State, newtop: number) => {
    if (L.top < newtop) fill(L, newtop);
    else L.top = newtop;
  };

  const moveresults = (L: State, firstResult: number, res: number, nres: number, wanted: number): boolean => {
    if (wanted === LUA_MULTRET) {
      for (let i = 0; i < nres; i++) setobjs2s(L, res + i, firstResult + i);
      L.top = res + nres;
      return false;
    }
    const n = Math.min(wanted, nres);
    for (let i = 0; i < n; i++) setobjs2s(L, res + i, firstResult + i);
    for (let i = n; i < wanted; i++) {
      const o = L.stack[res + i];
      if (res + i >= L.top || o === undefined) L.stack[res + i] = new TValue(LUA_TNIL, null);
      else o.setnilvalue();
    }
    L.top = res + wanted;
    return true;
  };

  const originalPoscall = ldo.luaD_poscall;
  const poscall = (L: State, ci: CallInfo, firstResult: number, nres: number): boolean => {
    if (L.hookmask) return originalPoscall(L, ci, firstResult, nres);
    const res = ci.funcOff;
    L.ci = ci.previous;
    L.ci.next = null;
    return moveresults(L, firstResult, res, nres, ci.nresults);
  };

  const originalPrecall = ldo.luaD_precall;
  const precall = (L: State, off: number, nresults: number): boolean => {
    const func = L.stack[off]!;
    if (L.hookmask) return originalPrecall(L, off, nresults);
    if (func.type === LUA_TLCL) {
      const p = (func.value as { p: { maxstacksize: number; is_vararg: boolean; numparams: number; code: unknown } }).p;
      if (p.is_vararg) return originalPrecall(L, off, nresults);
      const fsize = p.maxstacksize;
      ldo.luaD_checkstack(L, fsize);
      const base = off + 1;
      if (L.top - off - 1 < p.numparams) fill(L, base + p.numparams);
      const ci: CallInfo = lstate.luaE_extendCI(L);
      ci.funcOff = off;
      ci.nresults = nresults;
      ci.func = func;
      ci.l_base = base;
      ci.top = base + fsize;
      adjustTop(L, ci.top);
      ci.l_code = p.code;
      ci.l_savedpc = 0;
      ci.callstatus = CIST_LUA;
      return false;
    }
    if (func.type === LUA_TLCF || func.type === LUA_TCCL) {
      const f = (func.type === LUA_TCCL ? (func.value as { f: (L: State) => number }).f : func.value) as (L: State) => number;
      ldo.luaD_checkstack(L, LUA_MINSTACK);
      const ci: CallInfo = lstate.luaE_extendCI(L);
      ci.funcOff = off;
      ci.nresults = nresults;
      ci.func = func;
      ci.top = L.top + LUA_MINSTACK;
      ci.callstatus = 0;
      const n = f(L);
      if (typeof n !== 'number' || n < 0 || (n | 0) !== n) throw Error('invalid return value from JS function (expected integer)');
      poscall(L, ci, L.top - n, n);
      return true;
    }
    return originalPrecall(L, off, nresults);
  };

  ldo.adjust_top = adjustTop;
  ldo.luaD_poscall = poscall;
  ldo.luaD_precall = precall;
}
