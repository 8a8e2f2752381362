import { Registry, type Metric } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RouteDurationHistogram } from './route-histogram.js';

describe('RouteDurationHistogram', () => {
  it('renders cumulative buckets, +Inf, sum and count per series in Prometheus text', async () => {
    const histogram = new RouteDurationHistogram('x_seconds', 'test', [0.1, 1]);
    histogram.observe('GET', '/a', 200, 0.05);
    histogram.observe('GET', '/a', 200, 0.5);
    histogram.observe('GET', '/a', 200, 7);
    histogram.observe('POST', '/b', 400, 0.1);
    const registry = new Registry();
    registry.registerMetric(histogram as unknown as Metric);
    const text = await registry.metrics();
    expect(text).toContain('# TYPE x_seconds histogram');
    expect(text).toContain('x_seconds_bucket{method="GET",route="/a",status_code="200",le="0.1"} 1');
    expect(text).toContain('x_seconds_bucket{method="GET",route="/a",status_code="200",le="1"} 2');
    expect(text).toContain('x_seconds_bucket{method="GET",route="/a",status_code="200",le="+Inf"} 3');
    expect(text).toContain('x_seconds_sum{method="GET",route="/a",status_code="200"} 7.55');
    expect(text).toContain('x_seconds_count{method="GET",route="/a",status_code="200"} 3');
    expect(text).toContain('x_seconds_bucket{method="POST",route="/b",status_code="400",le="0.1"} 1');
    histogram.reset();
    expect(await registry.metrics()).not.toContain('x_seconds_count');
  });
});
