/**
 * Per-task custom metrics in CloudWatch: every interval, one PutMetricData
 * call carrying this task's figures, each with the single dimension
 * `ServiceName`, so that across the service's tasks the `Average` statistic
 * of ConnectedClients is connections per task (and `Sum` the fleet's total).
 *
 * Off unless configured (CLOUDWATCH_NAMESPACE). A failed call is logged and
 * its data sent again with the next interval's call (original timestamps
 * kept); the timer is unref'd and nothing awaits the call, so CloudWatch can
 * neither crash nor hold up the gateway.
 */
import { CloudWatchClient, PutMetricDataCommand, type MetricDatum, type StandardUnit } from "@aws-sdk/client-cloudwatch";
import type { CloudWatchConfig } from "./config.js";
import type { Logger } from "./log.js";
import type { TaskFigures } from "./task-figures.js";

/** Metric names the stack's alarms and dashboard read: do not rename one without the other. */
export const CLOUDWATCH_METRIC = {
  connectedClients: "ConnectedClients",
  newConnections: "NewConnections",
  rejectedConnections: "RejectedConnections",
  deliveryLatencyP99: "DeliveryLatencyP99",
  eventLoopLagP99: "EventLoopLagP99",
} as const;

export const SERVICE_DIMENSION = "ServiceName";

// Unsent data kept across failures: 10 intervals (10 minutes by default) of
// 5 figures, well inside PutMetricData's limit of 1000 datums per call.
const MAX_PENDING_DATUMS = 50;

export interface CloudWatchPublisher {
  start(): void;
  /** One publish now (what the timer runs); never rejects. */
  publish(): Promise<void>;
  stop(): void;
}

export function createCloudWatchPublisher(
  config: CloudWatchConfig | undefined,
  figures: () => Promise<TaskFigures>,
  log: Logger,
): CloudWatchPublisher {
  if (!config) {
    return {
      start: () => log.info("cloudwatch metrics off: CLOUDWATCH_NAMESPACE is not set"),
      publish: async () => {},
      stop: () => {},
    };
  }
  const client = new CloudWatchClient({
    region: config.region,
    endpoint: config.endpoint,
    // Retrying is the next interval's job: an SDK retry loop would only
    // overlap with it.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 5000, requestTimeout: Math.min(30_000, config.intervalSeconds * 1000 * 2) },
  });
  let pending: MetricDatum[] = [];
  let inFlight = false;
  let timer: NodeJS.Timeout | undefined;

  async function publish(): Promise<void> {
    try {
      pending.push(...toDatums(await figures(), config!.serviceName, new Date()));
      if (pending.length > MAX_PENDING_DATUMS) {
        const dropped = pending.length - MAX_PENDING_DATUMS;
        pending = pending.slice(dropped);
        log.warn("cloudwatch: dropped the oldest unsent figures", { dropped });
      }
      // One call at a time: figures taken meanwhile wait for the next interval.
      if (inFlight) return;
      inFlight = true;
      const batch = pending;
      pending = [];
      try {
        await client.send(new PutMetricDataCommand({ Namespace: config!.namespace, MetricData: batch }));
        log.debug("cloudwatch: published", { datums: batch.length });
      } catch (err) {
        pending = [...batch, ...pending].slice(-MAX_PENDING_DATUMS);
        log.warn("cloudwatch publish failed; retrying at the next interval", {
          error: err as Error,
          status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
          pending: pending.length,
        });
      } finally {
        inFlight = false;
      }
    } catch (err) {
      log.error("cloudwatch: could not gather figures", { error: err as Error });
    }
  }

  return {
    start() {
      log.info("cloudwatch metrics on", {
        namespace: config.namespace,
        serviceName: config.serviceName,
        intervalSeconds: config.intervalSeconds,
        endpoint: config.endpoint ?? "regional",
      });
      timer = setInterval(() => void publish(), config.intervalSeconds * 1000);
      timer.unref();
    },
    publish,
    stop() {
      if (timer) clearInterval(timer);
      client.destroy();
    },
  };
}

export function toDatums(f: TaskFigures, serviceName: string, at: Date): MetricDatum[] {
  const dims = [{ Name: SERVICE_DIMENSION, Value: serviceName }];
  const datum = (MetricName: string, Value: number, Unit: StandardUnit): MetricDatum => ({
    MetricName,
    Dimensions: dims,
    Timestamp: at,
    Value,
    Unit,
  });
  const out = [
    datum(CLOUDWATCH_METRIC.connectedClients, f.connectedClients, "Count"),
    datum(CLOUDWATCH_METRIC.newConnections, f.newConnections, "Count"),
    datum(CLOUDWATCH_METRIC.rejectedConnections, f.rejectedConnections, "Count"),
    datum(CLOUDWATCH_METRIC.eventLoopLagP99, round(f.eventLoopLagP99Ms), "Milliseconds"),
  ];
  // No samples means no deliveries, not a latency of 0: omit it.
  if (f.deliveryLatencyP99Ms !== undefined) {
    out.push(datum(CLOUDWATCH_METRIC.deliveryLatencyP99, round(f.deliveryLatencyP99Ms), "Milliseconds"));
  }
  return out;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;
