// Metrics across cluster workers. All workers share one port, so a scraper reaches a random worker: per-worker
// scraping cannot work. The worker that answers GET /metrics asks the primary over IPC; the primary gathers every
// worker's registry with prom-client's AggregatorRegistry (counters and histograms summed) and sends the text back.
import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST = 'iph-cds:metrics-request';
const RESPONSE = 'iph-cds:metrics-response';
const TIMEOUT_MS = 5000;

interface MetricsMessage {
  type: string;
  id: number;
  text?: string;
  error?: string;
}

function isMetricsMessage(m: unknown): m is MetricsMessage {
  return typeof m === 'object' && m !== null && typeof (m as MetricsMessage).type === 'string' && typeof (m as MetricsMessage).id === 'number';
}

/** Primary: answers workers' metrics requests with the aggregate of all workers. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: RESPONSE, id: message.id, text }),
      (err: unknown) => worker.send({ type: RESPONSE, id: message.id, error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** Worker: reports `registry` to the primary's aggregation and returns the collector GET /metrics uses. */
export function clusterMetricsCollector(registry: Registry): () => Promise<{ contentType: string; text: string }> {
  // Constructing one installs prom-client's worker-side listener; setRegistries says which registry it reports.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let next = 0;
  const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
  process.on('message', (message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== RESPONSE) return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error !== undefined) waiter.reject(new Error(`cluster metrics: ${message.error}`));
    else waiter.resolve(message.text ?? '');
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error('cluster metrics: the primary did not answer'));
      }, TIMEOUT_MS);
      pending.set(id, {
        resolve: (text) => {
          clearTimeout(timer);
          resolve({ contentType: registry.contentType, text });
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      process.send?.({ type: REQUEST, id });
    });
}
