import SwaggerParser from '@apidevtools/swagger-parser';
import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

/**
 * Checks answers against the API reference (functions/openapi): whether a status is one the document lists for the
 * operation, and whether the body is what its response object says (JSON Schema 2020-12, the dialect of OpenAPI 3.1,
 * validated by Ajv with its formats; no body for a response without content). Used by tests/unit/openapi.test.ts (the
 * examples) and tests/integration/openapi-responses.test.ts (the offline stack's real answers).
 */

type ResponseObject = { headers?: Record<string, unknown>; content?: Record<string, { schema?: object; example?: unknown }> };
type OperationObject = { operationId: string; responses: Record<string, ResponseObject> };

export interface ResponseChecker {
  /** The dereferenced operation `METHOD path` (template path, e.g. `/links/{id}`), or throws. */
  operation(method: string, path: string): OperationObject;
  /**
   * What is wrong with an answer (empty when it is as documented): its status, its body, its Content-Type, a documented
   * header missing (`headers`: the answer's; without them, the status and body only).
   */
  problems(method: string, path: string, status: number, body: string, headers?: Headers): string[];
  /** What is wrong with `value` as the JSON body of `status` (empty when it validates). */
  bodyProblems(method: string, path: string, status: number, value: unknown): string[];
}

export async function responseChecker(document: object): Promise<ResponseChecker> {
  const doc = (await SwaggerParser.dereference(structuredClone(document) as never)) as unknown as { paths: Record<string, Record<string, OperationObject>> };
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  addFormats(ajv);
  const compiled = new Map<object, ValidateFunction>();
  const validatorOf = (schema: object): ValidateFunction => {
    let validate = compiled.get(schema);
    if (!validate) compiled.set(schema, (validate = ajv.compile(schema)));
    return validate;
  };

  const operation = (method: string, path: string): OperationObject => {
    const op = doc.paths[path]?.[method.toLowerCase()];
    if (!op) throw new Error(`${method} ${path} is not in the document`);
    return op;
  };

  const bodyProblems = (method: string, path: string, status: number, value: unknown): string[] => {
    const response = operation(method, path).responses[String(status)];
    if (!response) return [`${status} is not a documented answer of ${method} ${path}`];
    const schema = response.content?.['application/json']?.schema;
    if (!schema) return [`${method} ${path} ${status} documents no body`];
    const validate = validatorOf(schema);
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '(body)'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
  };

  return {
    operation,
    bodyProblems,
    problems(method, path, status, body, headers) {
      const op = operation(method, path);
      const response = op.responses[String(status)];
      if (!response) return [`${status} is not among the documented answers of ${method} ${path} (${Object.keys(op.responses).join(', ')})`];
      const missing = Object.keys(response.headers ?? {}).filter((name) => headers && name !== 'Retry-After' && !headers.has(name));
      const headerProblems = missing.map((name) => `documented header ${name} is missing`);
      if (!response.content) return [...headerProblems, ...(body === '' ? [] : [`a body where none is documented: ${body.slice(0, 200)}`])];
      const type = headers?.get('content-type');
      if (headers && !type?.startsWith('application/json')) headerProblems.push(`Content-Type ${type ?? '(none)'} where application/json is documented`);
      let value: unknown;
      try {
        value = JSON.parse(body);
      } catch {
        return [...headerProblems, `the body is not JSON: ${body.slice(0, 200)}`];
      }
      return [...headerProblems, ...bodyProblems(method, path, status, value)];
    },
  };
}
