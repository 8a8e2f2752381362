import type { MetricValueWithName } from 'prom-client';

interface Series {
  readonly labels: { method: string; route: string; status_code: string };
  /** Observations per bucket, not cumulative (cumulated when scraped). */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * The request-duration histogram, observed on every response. prom-client's
 * Histogram validates and hashes the label object on each observation; here a
 * series is found by one string key and a bucket by a short scan, and the
 * Prometheus shape (cumulative `le` buckets, `_sum`, `_count`) is produced
 * only when /metrics is scraped. Registered in a prom-client Registry as a
 * custom metric (an object with `name` and `get()`).
 */
export class RouteDurationHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {}

  observe(method: string, route: string, statusCode: number, seconds: number): void {
    const key = `${method} ${statusCode} ${route}`;
    let series = this.#series.get(key);
    if (!series) {
      series = { labels: { method, route, status_code: String(statusCode) }, counts: new Float64Array(this.buckets.length), sum: 0, count: 0 };
      this.#series.set(key, series);
    }
    series.sum += seconds;
    series.count += 1;
    for (let i = 0; i < this.buckets.length; i++) {
      if (seconds <= (this.buckets[i] as number)) {
        (series.counts[i] as number) += 1;
        break;
      }
    }
  }

  async get(): Promise<{ name: string; help: string; type: 'histogram'; aggregator: 'sum'; values: MetricValueWithName<string>[] }> {
    const values: MetricValueWithName<string>[] = [];
    for (const series of this.#series.values()) {
      let cumulative = 0;
      this.buckets.forEach((bound, i) => {
        cumulative += series.counts[i] as number;
        values.push({ metricName: `${this.name}_bucket`, labels: { ...series.labels, le: bound }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { ...series.labels, le: '+Inf' }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels: series.labels, value: series.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.#series.clear();
  }
}
