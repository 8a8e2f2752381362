import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { startServer } from '../server.js';

function banner(config: Config, tenantUrl: string): string {
  const db = config.database.kind === 'sqlite' ? `SQLite ${config.database.path}` : 'PostgreSQL';
  const lines = [
    '',
    `  Portcullis is running (role: ${config.role}, database: ${db})`,
    `    default tenant:  ${tenantUrl}/`,
    `    readiness:       ${tenantUrl}/readyz`,
    `    metrics:         ${tenantUrl}/metrics`,
    '  Next: get a Management API client with   npx portcullis admin-client --json',
    '',
  ];
  return lines.join('\n') + '\n';
}

/**
 * Runs a node until SIGTERM/SIGINT, then shuts down gracefully: the node turns
 * unready, stops accepting connections, lets in-flight requests finish, stops
 * jobs and closes the pool — or exits non-zero when that takes longer than
 * SHUTDOWN_TIMEOUT_MS.
 */
export async function runServer(config: Config, logger: Logger): Promise<void> {
  const server = await startServer(config, logger);
  process.stderr.write(banner(config, config.publicUrl));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: draining in-flight requests');
    const deadline = setTimeout(() => {
      logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      logger.flush?.();
      process.exit(1);
    }, config.shutdownTimeoutMs);
    deadline.unref();
    server
      .close()
      .then(() => {
        logger.info('shutdown complete');
        clearTimeout(deadline);
        logger.flush?.();
        process.exit(0);
      })
      .catch((error: Error) => {
        logger.error({ reason: error.message }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
