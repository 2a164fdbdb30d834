/** hostnic schema: print the JSON Schema of the desired-state file (for editors; also schema/attachments.schema.json in the package). */
import { jsonSchema } from '../desired/schema.js';

export function schemaCommand(): number {
  process.stdout.write(`${JSON.stringify(jsonSchema(), null, 2)}\n`);
  return 0;
}
