/**
 * `/metrics` in the Prometheus text format (prom-client): requests by route and status, latency, what waits
 * in the queue, the network's batch sizes, jobs. A registry per server, so tests can run several.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface ServerMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route'>;
  readonly batchSize: Histogram<'model'>;
  readonly rejected: Counter<'reason'>;
}

export interface MetricsSources {
  /** Requests admitted and not answered yet, by queue. */
  queueDepth(): Record<string, number>;
  /** Async jobs kept, and those still working. */
  jobs(): { kept: number; running: number };
}

export function createMetrics(sources: MetricsSources): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sly_nn_' });
  const requests = new Counter({
    name: 'sly_nn_http_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'sly_nn_http_request_duration_seconds',
    help: 'Time from a request to its response, by route',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'sly_nn_network_batch_size',
    help: 'Images per network batch (dynamic batching gathers concurrent requests)',
    labelNames: ['model'] as const,
    buckets: [1, 2, 3, 4, 6, 8, 12, 16, 32],
    registers: [registry],
  });
  const rejected = new Counter({
    name: 'sly_nn_requests_rejected_total',
    help: 'Requests refused with 503, by reason (queue full, stopping, jobs full)',
    labelNames: ['reason'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'sly_nn_queue_depth',
    help: 'Requests admitted and waiting or running, by queue',
    labelNames: ['queue'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [queue, n] of Object.entries(sources.queueDepth())) this.set({ queue }, n);
    },
  });
  new Gauge({
    name: 'sly_nn_async_jobs',
    help: 'Async inference requests kept (state=kept) and still working (state=running)',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const j = sources.jobs();
      this.set({ state: 'kept' }, j.kept);
      this.set({ state: 'running' }, j.running);
    },
  });
  return { registry, requests, latency, batchSize, rejected };
}
