// fengari ships no type declarations; the engine uses its C-API mirror untyped, in one file (lua.ts).
declare module 'fengari' {
  const fengari: any;
  export default fengari;
}
