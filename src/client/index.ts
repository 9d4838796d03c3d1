/** The peakdesk client SDK: agent and buyer connections that resume and resend by themselves. */
export { AgentClient, type AgentClientOptions } from './agent-client.ts';
export type { ClientOptions } from './client-base.ts';
export { BuyerClient, type BuyerClientOptions } from './buyer-client.ts';
export { ReconnectingSocket, type ConnStatus, type FailureReason, type SocketOptions, type WebSocketCtor, type WebSocketLike } from './socket.ts';
export { LineRefused, Outbox, SeqTracker } from './session-state.ts';
export * from './frames.ts';
