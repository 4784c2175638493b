/**
 * A local HTTP endpoint standing in for CloudWatch: the real AWS SDK is
 * pointed at it (CLOUDWATCH_ENDPOINT), it records each request and decodes
 * the body by the protocol the SDK used, so tests assert on wire content.
 *
 * @aws-sdk/client-cloudwatch 3.1178 sends PutMetricData in the AWS JSON 1.0
 * protocol (x-amz-target GraniteServiceVersion20100801.PutMetricData,
 * Timestamp as epoch seconds). A body in another protocol (the older query
 * protocol, Smithy RPCv2 CBOR) is refused loudly rather than half-read.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";

export interface RecordedDatum {
  MetricName: string;
  Dimensions: Array<{ Name: string; Value: string }>;
  Value: number;
  Unit: string;
  /** Epoch seconds. */
  Timestamp: number;
}

export interface RecordedPut {
  target: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  Namespace: string;
  MetricData: RecordedDatum[];
  /** The status this recorder answered with. */
  answered: number;
}

export interface CloudWatchRecorder {
  readonly url: string;
  readonly puts: RecordedPut[];
  /** Answer the next `n` requests with HTTP 500. */
  failNext(n: number): void;
  close(): Promise<void>;
}

export async function startCloudWatchRecorder(): Promise<CloudWatchRecorder> {
  const puts: RecordedPut[] = [];
  let failures = 0;
  const server: Server = createServer(async (req, res) => {
    let put: RecordedPut;
    try {
      put = decode(req, await body(req));
    } catch (err) {
      res.writeHead(400, { "content-type": "text/plain" }).end((err as Error).message);
      puts.push({ target: undefined, authorization: undefined, contentType: req.headers["content-type"], Namespace: "", MetricData: [], answered: 400 });
      return;
    }
    if (failures > 0) {
      failures--;
      put.answered = 500;
      puts.push(put);
      res.writeHead(500, { "content-type": "application/x-amz-json-1.0" });
      res.end(JSON.stringify({ __type: "InternalServiceError", message: "the recorder was told to fail" }));
      return;
    }
    put.answered = 200;
    puts.push(put);
    res.writeHead(200, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `req-${puts.length}` });
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    puts,
    failNext: (n) => (failures = n),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  // PutMetricData supports request compression (gzip above 10 KiB by default).
  return req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw;
}

function decode(req: IncomingMessage, raw: Buffer): RecordedPut {
  const contentType = req.headers["content-type"];
  if (req.method !== "POST") throw new Error(`expected POST, got ${req.method}`);
  if (contentType !== "application/x-amz-json-1.0") {
    throw new Error(`unexpected content-type ${contentType}: this recorder decodes the AWS JSON 1.0 protocol only`);
  }
  const parsed = JSON.parse(raw.toString("utf8")) as { Namespace: string; MetricData: RecordedDatum[] };
  return {
    target: req.headers["x-amz-target"] as string | undefined,
    authorization: req.headers.authorization,
    contentType,
    Namespace: parsed.Namespace,
    MetricData: parsed.MetricData,
    answered: 0,
  };
}
