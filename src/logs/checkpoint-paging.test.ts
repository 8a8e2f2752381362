import { afterAll, beforeAll, expect, it } from 'vitest';
import { startListeningTestApp, type TestApp } from '../../test/support/app.js';
import { describeEachBackend } from '../../test/support/backends.js';
import { managementToken } from '../../test/support/management.js';
import { EventBus } from '../events/bus.js';
import { systemRuntime } from '../storage/runtime.js';
import { logsStore } from './store.js';
import { LogWriter } from './writer.js';

const WRITERS = 4;
const EVENTS_PER_WRITER = 60;

/**
 * GET /api/v2/logs?from=&take= followed page by page while several writers
 * (as several nodes would: each its own writer, its own transactions, on the
 * shared database) keep adding events: the reader sees every event exactly
 * once, in the tenant's order, and skips none that committed late.
 */
describeEachBackend('checkpoint paging while events arrive', (backend) => {
  let t: TestApp;
  let issuer: string;
  let tenantId: string;
  let token: string;

  beforeAll(async () => {
    ({ t, issuer, tenantId } = await startListeningTestApp(backend));
    const admin = await t.services.clients.ensureAdminClient(tenantId);
    token = await managementToken(issuer, admin);
  });
  afterAll(async () => t?.cleanup());

  async function page(from: string, take: number): Promise<string[]> {
    const res = await fetch(`${issuer}api/v2/logs?from=${from}&take=${take}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as Array<{ log_id: string }>).map((e) => e.log_id);
  }

  it('never skips nor repeats an event', async () => {
    const anchor = await logsStore(t.database.db, tenantId, systemRuntime).append({ type: 'sapi', description: 'anchor' });
    const nodes = Array.from({ length: WRITERS }, () => {
      const bus = new EventBus();
      bus.onDurable(new LogWriter({ database: t.database, runtime: systemRuntime, factsTtlMs: 1000 }).write);
      return bus;
    });
    let writing = true;
    const writers = Promise.all(
      nodes.map(async (bus, n) => {
        for (let i = 0; i < EVENTS_PER_WRITER; i += 3) {
          // Three at a time: one group commit each, interleaved with the other nodes'.
          await Promise.all([0, 1, 2].map((k) => bus.publish({ tenantId, type: 's', description: `node ${n} event ${i + k}` })));
        }
      }),
    ).finally(() => {
      writing = false;
    });

    const read: string[] = [];
    let from = anchor.log_id;
    let pagesWhileWriting = 0;
    for (;;) {
      const stillWriting = writing;
      if (stillWriting) pagesWhileWriting += 1;
      const ids = await page(from, 13);
      read.push(...ids);
      if (ids.length > 0) from = ids.at(-1) as string;
      // Done once a page came back empty after the writers had finished.
      else if (!stillWriting) break;
    }
    await writers;

    const all = (await logsStore(t.database.db, tenantId, systemRuntime).listAfterSeq(0, 10_000)).map((e) => e.event);
    const after = all.slice(all.findIndex((e) => e.log_id === anchor.log_id) + 1).map((e) => e.log_id);
    expect(after).toHaveLength(WRITERS * EVENTS_PER_WRITER);
    expect(read).toEqual(after);
    expect(pagesWhileWriting).toBeGreaterThan(0);
  });
});
