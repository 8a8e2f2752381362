import type { FastifyInstance } from 'fastify';
import type { Readiness } from './health.js';

const IDLE_SWEEP_MS = 50;

/**
 * On close: the node turns unready at once (load balancers stop sending it
 * traffic), the listener stops accepting, and in-flight requests finish.
 * Node closes connections that are idle when close() is called, but not
 * keep-alive connections that become idle afterwards, which would hold close()
 * open; so idle connections are swept until the server has closed. Nothing is
 * added to the per-request path.
 */
export function installGracefulClose(app: FastifyInstance, readiness: Readiness): void {
  let sweeper: NodeJS.Timeout | undefined;
  app.addHook('preClose', function startDraining(done) {
    readiness.markDraining();
    const server = app.server;
    if (server.listening) {
      sweeper = setInterval(() => server.closeIdleConnections(), IDLE_SWEEP_MS);
      sweeper.unref();
      server.once('close', () => clearInterval(sweeper));
    }
    done();
  });
  app.addHook('onClose', function stopSweeping(_instance, done) {
    clearInterval(sweeper);
    done();
  });
}
