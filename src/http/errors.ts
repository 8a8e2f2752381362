import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance } from 'fastify';

/** The JSON error body outside protocol endpoints (same shape as Auth0's Management API). */
export interface ErrorBody {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly errorCode?: string;
}

export function errorBody(statusCode: number, message: string, errorCode?: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, ...(errorCode ? { errorCode } : {}) };
}

/** An error a route may throw to answer with a given status and message. */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly errorCode?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * One place renders every error: 4xx keep their (safe) message — invalid JSON
 * is 400, an oversized body 413, an unsupported type 415 — and anything else
 * is logged and answered with a generic 500. Never a stack trace.
 */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(function renderError(error: FastifyError | HttpError, request, reply) {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
    if (status >= 500) {
      request.log.error({ err: error }, 'request failed');
      return reply.code(500).send(errorBody(500, 'An unexpected error occurred.'));
    }
    const code = error instanceof HttpError ? error.errorCode : (error as FastifyError).code;
    return reply.code(status).send(errorBody(status, error.message, code));
  });

  app.setNotFoundHandler(function renderNotFound(request, reply) {
    return reply.code(404).send(errorBody(404, `Route ${request.method} ${request.url.split('?')[0]} not found`));
  });
}
