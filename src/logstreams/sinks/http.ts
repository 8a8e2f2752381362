import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { LogEvent } from '../../logs/store.js';
import type { HttpSinkConfig, HttpSinkSecrets } from '../sink-config.js';
import { SsrfRefusedError, type AddressPolicy } from '../ssrf.js';
import { DeliveryError, streamRecord, type Sink } from './sink.js';

/** Bytes of a receiver's answer read before the socket is let go (the body is never used). */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * The custom webhook sink (Auth0's `http` log stream): POSTs to
 * `httpEndpoint` with `httpAuthorization` as the Authorization header.
 * JSONLINES: one request per batch, one record per line; JSONARRAY: one
 * request per batch, an array of records; JSONOBJECT: one request per
 * event, the record itself. Only a 2xx answer counts as delivered; redirects
 * are not followed (a redirect could lead past the SSRF guard). Every
 * connection resolves the host through the SSRF policy and connects to the
 * address it checked; a keep-alive agent per stream reuses connections.
 */
export function httpSink(config: HttpSinkConfig, secrets: HttpSinkSecrets, policy: AddressPolicy, timeoutMs: number): Sink {
  const url = new URL(config.httpEndpoint);
  const secure = url.protocol === 'https:';
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const agentOptions = { keepAlive: true, maxSockets: 1, timeout: timeoutMs };
  const agent = secure ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  const headers: Record<string, string> = { 'content-type': config.httpContentType, 'user-agent': 'Portcullis-LogStreams/1' };
  for (const { header, value } of secrets.httpCustomHeaders ?? []) headers[header] = value;
  if (secrets.httpAuthorization !== undefined) headers['authorization'] = secrets.httpAuthorization;

  function post(body: string, signal: AbortSignal): Promise<void> {
    // An IP literal never reaches `lookup`: it is judged here, on every request.
    if (isIP(host) !== 0) {
      const verdict = policy.judge(host);
      if (!verdict.allowed) return Promise.reject(new DeliveryError('refused', new SsrfRefusedError(host, host, verdict).message));
    }
    const send = secure ? httpsRequest : httpRequest;
    const timeout = AbortSignal.timeout(timeoutMs);
    return new Promise<void>((resolve, reject) => {
      const request = send(url, {
        method: 'POST',
        agent,
        lookup: policy.lookup as unknown as LookupFunction,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal: AbortSignal.any([signal, timeout]),
      });
      request.on('response', (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        let read = 0;
        response.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) response.destroy();
        });
        response.on('error', () => undefined);
        response.on('close', () => {
          if (status >= 200 && status < 300) return resolve();
          const kind = status >= 500 ? 'http_5xx' : status >= 400 ? 'http_4xx' : 'http_3xx';
          reject(new DeliveryError(kind, `HTTP ${status} from ${url.host}`));
        });
      });
      request.on('error', (error: Error & { code?: string }) => {
        if (error instanceof SsrfRefusedError || error.code === 'SSRF_REFUSED') return reject(new DeliveryError('refused', error.message));
        if (timeout.aborted) return reject(new DeliveryError('timeout', `no answer from ${url.host} within ${timeoutMs} ms`));
        reject(new DeliveryError('network', `${url.host}: ${error.code ?? error.message}`));
      });
      request.end(body);
    });
  }

  return {
    async deliver(events: readonly LogEvent[], signal: AbortSignal): Promise<void> {
      const records = events.map(streamRecord);
      switch (config.httpContentFormat) {
        case 'JSONARRAY':
          return post(JSON.stringify(records), signal);
        case 'JSONOBJECT':
          for (const record of records) await post(JSON.stringify(record), signal);
          return;
        default:
          return post(records.map((r) => JSON.stringify(r)).join('\n') + '\n', signal);
      }
    },
    async close() {
      agent.destroy();
    },
  };
}
