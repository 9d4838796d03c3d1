import { z } from 'zod';
import { agentInbound, agentOutbound, buyerInbound, buyerOutbound } from './frames.ts';

type Union = { options: readonly z.ZodObject[] };

/** Each frame of a union by its `type`, in the union's order. */
export function framesOf(union: Union): { type: string; schema: z.ZodObject }[] {
  return union.options.map((schema) => {
    const literal = schema.shape.type as z.ZodLiteral<string>;
    return { type: String(literal.value), schema };
  });
}

/** The four directions of the wire protocol: endpoint, who sends, and the union of its frames. */
export const DIRECTIONS = [
  { id: 'buyerToServer', channel: 'buyer', title: 'Buyer → server', union: buyerInbound as unknown as Union, action: 'receive' },
  { id: 'serverToBuyer', channel: 'buyer', title: 'Server → buyer', union: buyerOutbound as unknown as Union, action: 'send' },
  { id: 'agentToServer', channel: 'agent', title: 'Agent → server', union: agentInbound as unknown as Union, action: 'receive' },
  { id: 'serverToAgent', channel: 'agent', title: 'Server → agent', union: agentOutbound as unknown as Union, action: 'send' },
] as const;

const CHANNELS = {
  buyer: { address: '/v1/buyer', description: "One buyer's chat with one shop (token kind `buyer`)." },
  agent: { address: '/v1/agent', description: "One agent's workbench connection (token kind `agent`)." },
} as const;

/**
 * The AsyncAPI 3 description of the WebSocket protocol, generated from the zod schemas the
 * gateway validates frames with (inbound as accepted, outbound as sent), so it cannot drift
 * from the code. Served at /docs/asyncapi.json; docs/protocol.md explains it in words.
 */
export function asyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  const channels: Record<string, { address: string; description: string; messages: Record<string, unknown> }> = {};
  const operations: Record<string, unknown> = {};
  for (const [name, c] of Object.entries(CHANNELS)) channels[name] = { ...c, messages: {} };
  for (const d of DIRECTIONS) {
    const refs: { $ref: string }[] = [];
    for (const { type, schema } of framesOf(d.union)) {
      const id = `${d.id}.${type}`;
      const payload = z.toJSONSchema(schema, { target: 'draft-7', io: d.action === 'receive' ? 'input' : 'output', unrepresentable: 'any' });
      delete (payload as { $schema?: string }).$schema;
      messages[id] = { name: type, title: `${d.title}: ${type}`, contentType: 'application/json', payload };
      channels[d.channel]!.messages[id] = { $ref: `#/components/messages/${id}` };
      refs.push({ $ref: `#/channels/${d.channel}/messages/${id}` });
    }
    operations[d.id] = {
      action: d.action,
      channel: { $ref: `#/channels/${d.channel}` },
      title: d.title,
      summary: d.action === 'receive' ? `Frames the gateway accepts on ${CHANNELS[d.channel].address}` : `Frames the gateway sends on ${CHANNELS[d.channel].address}`,
      messages: refs,
    };
  }
  return {
    asyncapi: '3.0.0',
    info: {
      title: 'peakdesk WebSocket protocol',
      version: '1.1',
      description:
        'Text frames, one JSON object each, with a `type`. Transcript events carry a per-session `seq`. See docs/protocol.md for the meaning of every frame and the error codes.',
    },
    defaultContentType: 'application/json',
    servers: {
      gateway: {
        host: '127.0.0.1:8080',
        protocol: 'ws',
        description: 'A gateway as `npm start` runs it; use wss behind TLS.',
        security: [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/queryToken' }],
      },
    },
    channels,
    operations,
    components: {
      messages,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (HS256)', description: '`Authorization: Bearer <jwt>`' },
        queryToken: { type: 'httpApiKey', name: 'token', in: 'query', description: '`?token=<jwt>`, for browsers' },
      },
    },
  };
}
