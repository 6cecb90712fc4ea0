import type { Context } from 'aws-lambda';
import { logger } from './logger.ts';

/**
 * The one way every function is wrapped: Lambda context and correlation id on every log line, per-invocation keys
 * cleared afterwards (Powertools' `injectLambdaContext` with `clearState`, without a middleware engine).
 */
export function withLambda<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  correlationId?: (event: E) => string | undefined,
): (event: E, context: Context) => Promise<R> {
  return async (event, context) => {
    logger.addContext(context);
    const id = correlationId?.(event);
    if (id !== undefined) logger.setCorrelationId(id);
    try {
      return await handler(event, context);
    } finally {
      logger.resetKeys();
    }
  };
}
