import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { asyncApiDocument } from '../protocol/asyncapi.ts';

/**
 * The OpenAPI document of the HTTP API, built from the routes' zod schemas: /docs (browsable)
 * and /docs/json. Documentation only; every /v1/admin route still needs an admin token.
 * The WebSocket protocol's AsyncAPI 3 document (from the frames' zod schemas): /docs/asyncapi.json.
 */
export async function registerDocs(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      info: { title: 'peakdesk ops API', version: '1', description: 'Queues, agents, sessions and live config of the peakdesk gateway.' },
      components: { securitySchemes: { admin: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT (kind: admin)' } } },
      security: [{ admin: [] }],
    },
    transform: jsonSchemaTransform,
    hideUntagged: true,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  const asyncApi = JSON.stringify(asyncApiDocument());
  app.get('/docs/asyncapi.json', async (_req, reply) => reply.type('application/json').send(asyncApi));
}
