// The baseline for `npm run bench`: the same Fastify version Portcullis uses,
// with one GET /healthz route, no logger and no hooks. Whatever Portcullis
// adds on top of Fastify shows up as the gap between the two.
//
//   node bench/bare-fastify.mjs [port]     (or PORT=…; HOST defaults to 127.0.0.1)
import Fastify from 'fastify';

const port = Number(process.argv[2] ?? process.env.PORT ?? 3001);
const host = process.env.HOST ?? '127.0.0.1';

const app = Fastify({ logger: false });

app.get('/healthz', async function liveness() {
  return { status: 'ok' };
});

function stop() {
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

await app.listen({ port, host });
process.stderr.write(`bare-fastify listening on http://${host}:${port}\n`);
