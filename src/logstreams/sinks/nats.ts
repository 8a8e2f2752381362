import { connect, type ConnectionOptions, type JetStreamClient, type NatsConnection } from 'nats';
import type { LogEvent } from '../../logs/store.js';
import type { NatsSinkConfig, NatsSinkSecrets } from '../sink-config.js';
import { SsrfRefusedError, type AddressPolicy } from '../ssrf.js';
import { DeliveryError, streamRecord, type Sink } from './sink.js';

const encoder = new TextEncoder();

/**
 * The NATS JetStream sink (a Portcullis extension): each event is published
 * to `natsSubject` with JetStream's message id set to its `log_id`, so a
 * redelivered event within the stream's duplicate window is dropped by the
 * server, and every publish's acknowledgement is awaited before the batch
 * counts as delivered. A batch is published pipelined on one connection, so
 * the stream stores it in order.
 *
 * The SSRF guard resolves each server's host itself and the client connects
 * to the checked address; cluster gossip (servers the first one announces)
 * is ignored, so the client never connects anywhere unchecked.
 */
export function natsSink(config: NatsSinkConfig, secrets: NatsSinkSecrets, policy: AddressPolicy, timeoutMs: number): Sink {
  let connection: NatsConnection | undefined;
  let jetstream: JetStreamClient | undefined;

  async function open(): Promise<JetStreamClient> {
    if (connection && !connection.isClosed() && jetstream) return jetstream;
    let lastError: unknown;
    for (const server of config.natsServers) {
      const url = new URL(server.replace(/^(nats|tls):/, 'http:'));
      const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      let addresses;
      try {
        addresses = await policy.resolve(hostname);
      } catch (error) {
        lastError = error;
        continue;
      }
      for (const { address, family } of addresses) {
        const options: ConnectionOptions = {
          servers: [`${family === 6 ? `[${address}]` : address}:${url.port || '4222'}`],
          name: 'portcullis-log-stream',
          timeout: timeoutMs,
          reconnect: false,
          ignoreClusterUpdates: true,
          noRandomize: true,
          ...(server.startsWith('tls:') ? { tls: { servername: hostname } as ConnectionOptions['tls'] } : {}),
          ...(secrets.natsToken !== undefined ? { token: secrets.natsToken } : {}),
          ...(config.natsUser !== undefined ? { user: config.natsUser, pass: secrets.natsPassword ?? '' } : {}),
        };
        try {
          connection = await connect(options);
          jetstream = connection.jetstream({ timeout: timeoutMs });
          return jetstream;
        } catch (error) {
          lastError = error;
        }
      }
    }
    if (lastError instanceof SsrfRefusedError) throw new DeliveryError('refused', lastError.message);
    throw new DeliveryError('network', `no NATS server reachable (${describe(lastError)})`);
  }

  async function drop(): Promise<void> {
    const open = connection;
    connection = undefined;
    jetstream = undefined;
    await open?.close().catch(() => undefined);
  }

  return {
    async deliver(events: readonly LogEvent[], signal: AbortSignal): Promise<void> {
      const js = await open();
      const onAbort = () => void drop();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        const acks = events.map((event) =>
          js.publish(config.natsSubject, encoder.encode(JSON.stringify(streamRecord(event))), {
            msgID: event.log_id,
            timeout: timeoutMs,
            ...(config.natsStream !== undefined ? { expect: { streamName: config.natsStream } } : {}),
          }),
        );
        // Every acknowledgement, even after a failure, so none is left unhandled.
        const results = await Promise.allSettled(acks);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) throw failed.reason;
      } catch (error) {
        await drop();
        if (error instanceof DeliveryError) throw error;
        throw new DeliveryError('nats', `JetStream publish to ${config.natsSubject} failed: ${describe(error)}`);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
    },
    close: drop,
  };
}

function describe(error: unknown): string {
  if (!error) return 'unknown error';
  const e = error as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' && e.code !== '' ? `${e.code}${typeof e.message === 'string' ? `: ${e.message}` : ''}` : String(e.message ?? error);
}
