import type { FastifyInstance } from 'fastify';
import type { EventBus } from '../events/bus.js';
import { acceptFormBodies } from '../http/form-body.js';
import type { RequestTenant } from '../tenants/routes.js';
import { UserError, type UserErrorCode } from './errors.js';
import type { UsersService } from './service.js';

/** Auth0's error names for /dbconnections/signup refusals. */
const ERROR_NAMES: Partial<Record<UserErrorCode, string>> = {
  password_too_short: 'PasswordStrengthError',
  password_too_long: 'PasswordStrengthError',
  password_common: 'PasswordDictionaryError',
  user_exists: 'BadRequestError',
};

function signupError(statusCode: number, code: string, description: string, name = 'BadRequestError') {
  return { name, code, description, statusCode };
}

/**
 * `POST /dbconnections/signup` (Auth0 Authentication API): creates a user in
 * a database connection for an application of this tenant. Answers Auth0's
 * shapes: `{ _id, email, email_verified }`, or `{ name, code, description,
 * statusCode }` with 400.
 */
export async function signupRoutes(app: FastifyInstance, options: { users: UsersService; clientExists: (tenantId: string, clientId: string) => Promise<boolean>; events: EventBus }): Promise<void> {
  acceptFormBodies(app, { bodyLimit: 16 * 1024 });

  app.post('/dbconnections/signup', async function signup(request, reply) {
    const { tenant } = request.tenantContext as RequestTenant;
    const body = (request.body ?? {}) as Record<string, unknown>;
    const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
    const clientId = str('client_id');
    const connection = str('connection');
    const email = str('email');
    const password = str('password');
    if (!clientId || !(await options.clientExists(tenant.id, clientId))) return reply.code(400).send(signupError(400, 'invalid_client', 'The client_id is missing or unknown.'));
    if (!connection || !email || !password) return reply.code(400).send(signupError(400, 'invalid_signup', 'connection, email and password are required.'));
    const metadata = body.user_metadata;
    try {
      const user = await options.users.signup({
        tenantId: tenant.id,
        connectionName: connection,
        email,
        password,
        ...(str('username') ? { username: str('username') as string } : {}),
        ...(metadata && typeof metadata === 'object' && !Array.isArray(metadata) ? { userMetadata: metadata as Record<string, unknown> } : {}),
      });
      await options.events.publish({ tenantId: tenant.id, type: 'ss', userId: user.user_id, userName: email, connection, clientId, ip: request.ip, userAgent: request.headers['user-agent'] });
      reply.header('cache-control', 'no-store');
      return { _id: user.user_id.replace(/^auth0\|/, ''), email: user.email, email_verified: user.email_verified, ...(user.username ? { username: user.username } : {}) };
    } catch (error) {
      if (error instanceof UserError) {
        // The reason, never the password (docs/log-events.md).
        await options.events.publish({ tenantId: tenant.id, type: 'fs', description: error.message, userName: email, connection, clientId, ip: request.ip, userAgent: request.headers['user-agent'], details: { error: { code: error.code, message: error.message } } });
      }
      if (error instanceof UserError) return reply.code(400).send(signupError(400, error.code, error.message, ERROR_NAMES[error.code]));
      throw error;
    }
  });
}
