import type { z } from 'zod';
import { configSchema } from './schema.ts';

/**
 * Every field an operator can set, as dotted paths read off the zod schema, so the README's
 * config table can be checked against it (test/config-docs.test.ts). Objects are descended,
 * an array of objects as `name[]`, a record as `name.<key>` with a placeholder for its keys;
 * anything else (a string, a number, an enum, a list of strings…) is one field.
 */
export function configPaths(): string[] {
  const out: string[] = [];
  walk(configSchema, '', '', out);
  return out;
}

/** What a record's keys stand for, by the record's own field name. */
const KEY_PLACEHOLDERS: Record<string, string> = { shops: '<shopId>', roles: '<role>', roleNames: '<role>', quickReplies: '<role>', priorityBoostMs: '<role>', overflow: '<role>', mode: '<role>', businessHours: '<role>' };

/**
 * Object-valued fields documented as one field, because their fields repeat a section that is
 * documented field by field: `bots.roles.<role>` takes those of `bots.texts`, and each override
 * of `shops.<shopId>` (`intent`, `bots`, `moderation`) mirrors the global section of its name.
 */
function documentedWhole(path: string): boolean {
  return path === 'bots.roles.<role>' || /^shops\.<shopId>\.[^.]+$/.test(path);
}

type Def = z.core.$ZodTypes['_zod']['def'];

/** The definition under optional/default/prefault/nullable wrappers and transforms. */
function unwrap(schema: z.core.$ZodType): Def {
  const def = (schema as z.core.$ZodTypes)._zod.def;
  switch (def.type) {
    case 'optional':
    case 'default':
    case 'prefault':
    case 'nullable':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return unwrap(def.innerType);
    case 'pipe': // `.transform()` and `.pipe()`: the input side is what the file holds
      return unwrap(def.in);
    default:
      return def;
  }
}

function walk(schema: z.core.$ZodType, path: string, name: string, out: string[]): void {
  const def = unwrap(schema);
  if (def.type === 'object' && !documentedWhole(path)) {
    for (const [key, field] of Object.entries(def.shape)) walk(field, path ? `${path}.${key}` : key, key, out);
  } else if (def.type === 'array' && unwrap(def.element).type === 'object') {
    walk(def.element, `${path}[]`, name, out);
  } else if (def.type === 'record') {
    walk(def.valueType, `${path}.${KEY_PLACEHOLDERS[name] ?? '<key>'}`, name, out);
  } else {
    out.push(path);
  }
}
