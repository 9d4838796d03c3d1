/** Why the port could not be bound, naming the variable (or config field) to change; null if that is not the problem. */
export function listenProblem(err: unknown, host: string, port: number, env: Record<string, string | undefined>): string | null {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const portName = env.PORT ? `PORT=${env.PORT}` : `server.port ${port} (or PORT)`;
  const hostName = env.HOST ? `HOST=${env.HOST}` : `server.host ${host} (or HOST)`;
  switch (code) {
    case 'EADDRINUSE':
      return `${portName}: ${host}:${port} is already in use by another process`;
    case 'EACCES':
      return `${portName}: not permitted to listen on port ${port} (ports below 1024 need privileges)`;
    case 'EADDRNOTAVAIL':
      return `${hostName}: not an address of this machine, cannot listen on it`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `${hostName}: cannot resolve this host name to listen on`;
    default:
      return null;
  }
}
