/** The AsyncAPI 3 document at /docs/asyncapi.json: valid against the AsyncAPI 3.0.0 schema, one message per frame. */
import specs from '@asyncapi/specs';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIRECTIONS, framesOf } from '../src/protocol/asyncapi.ts';
import { agentInbound, buyerOutbound } from '../src/protocol/frames.ts';
import { startGateway, type RunningGateway } from './support/gateway.ts';

function validator() {
  const schema = structuredClone(specs.schemas['3.0.0']) as { definitions: Record<string, unknown> };
  // The bundle carries its own copy of the draft-07 meta-schema, which Ajv already has built in.
  delete schema.definitions['http://json-schema.org/draft-07/schema'];
  return new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
}

let gw: RunningGateway;
let doc: any;
beforeAll(async () => {
  gw = await startGateway({});
  const res = await fetch(`${gw.http}/docs/asyncapi.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  doc = await res.json();
});
afterAll(async () => {
  await gw?.stop();
});

describe('/docs/asyncapi.json', () => {
  it('is a valid AsyncAPI 3.0.0 document', () => {
    const validate = validator();
    expect(validate(doc), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    // The validator does catch mistakes: an operation with an unknown action is refused.
    const broken = structuredClone(doc);
    broken.operations.buyerToServer.action = 'publish';
    expect(validator()(broken)).toBe(false);
  });

  it('has both endpoints and every frame of every direction, references resolving', () => {
    expect(doc.channels.buyer.address).toBe('/v1/buyer');
    expect(doc.channels.agent.address).toBe('/v1/agent');
    const resolve = (ref: string) => ref.slice(2).split('/').reduce((o: any, k: string) => o?.[k], doc);
    for (const d of DIRECTIONS) {
      const op = doc.operations[d.id];
      expect(op.action).toBe(d.action);
      const names = op.messages.map((m: { $ref: string }) => resolve(resolve(m.$ref).$ref).name);
      expect(names).toEqual(framesOf(d.union).map((f) => f.type));
    }
  });

  it('carries the schemas the gateway validates with', () => {
    const ready = doc.components.messages['agentToServer.ready'].payload;
    expect(ready.required).toEqual(expect.arrayContaining(['type', 'roles', 'capacity']));
    expect(ready.properties.capacity).toMatchObject({ type: 'integer', minimum: 1, maximum: 50 });
    const queue = doc.components.messages['serverToBuyer.queue'].payload;
    expect(queue.required).not.toContain('etaSeconds');
    expect(framesOf(agentInbound as never).length + framesOf(buyerOutbound as never).length).toBe(
      Object.keys(doc.components.messages).filter((k) => k.startsWith('agentToServer.') || k.startsWith('serverToBuyer.')).length,
    );
  });
});
