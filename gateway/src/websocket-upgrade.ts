/**
 * The server side of the WebSocket opening handshake (RFC 6455 §4.2), for a
 * connection taken straight from Node's HTTP `upgrade` event: validate the
 * request, then write the 101 (or a refusal) on the raw socket ourselves.
 *
 * Extensions are never negotiated: Sec-WebSocket-Extensions is ignored, so
 * the client never uses permessage-deflate and every RSV bit it sends is a
 * protocol error (see websocket-frames.ts).
 */
import { createHash } from "node:crypto";
import { STATUS_CODES, type IncomingMessage } from "node:http";

export type UpgradeCheck =
  | { ok: true; accept: string; protocol: string | undefined }
  | { ok: false; status: number; message: string; headers?: Record<string, string> };

/** RFC 6455 §1.3: appended to the client's key before hashing. */
const KEY_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** A base64 16-byte nonce, the same test ws applies. */
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** RFC 7230 token: what a subprotocol name may be, so echoing one cannot break the response. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Validates an upgrade request; on success gives the Sec-WebSocket-Accept value and the subprotocol to echo. */
export function checkUpgrade(req: IncomingMessage): UpgradeCheck {
  if (req.method !== "GET") return refuse(405, "Invalid HTTP method");
  const upgrade = req.headers.upgrade;
  if (upgrade === undefined || upgrade.toLowerCase() !== "websocket") return refuse(400, "Invalid Upgrade header");
  // RFC 6455 §4.2.2: an unsupported version gets 426 and the version we speak.
  // (ws answers 400 and also accepts the hybi draft version 8; no client in use still sends 8.)
  if (req.headers["sec-websocket-version"] !== "13") {
    return refuse(426, "Unsupported WebSocket version", { "Sec-WebSocket-Version": "13" });
  }
  const key = req.headers["sec-websocket-key"];
  if (key === undefined || !KEY.test(key)) return refuse(400, "Missing or invalid Sec-WebSocket-Key header");

  // Like ws's default handleProtocols: the first protocol the client offers.
  let protocol: string | undefined;
  const offered = req.headers["sec-websocket-protocol"];
  if (offered !== undefined) {
    const names = offered.split(",").map((name) => name.trim());
    if (!names.every((name) => TOKEN.test(name))) return refuse(400, "Invalid Sec-WebSocket-Protocol header");
    protocol = names[0];
  }
  const accept = createHash("sha1").update(key + KEY_GUID).digest("base64");
  return { ok: true, accept, protocol };
}

/** The 101 response that completes the handshake; write it on the upgrade socket as is. */
export function acceptResponse(accept: string, protocol?: string): string {
  return (
    "HTTP/1.1 101 Switching Protocols\r\n" +
    "Upgrade: websocket\r\n" +
    "Connection: Upgrade\r\n" +
    `Sec-WebSocket-Accept: ${accept}\r\n` +
    (protocol === undefined ? "" : `Sec-WebSocket-Protocol: ${protocol}\r\n`) +
    "\r\n"
  );
}

/** A complete HTTP response refusing the upgrade; write it, then end the socket. */
export function refusalResponse(status: number, message: string, headers?: Record<string, string>): string {
  const fields: Record<string, string> = {
    Connection: "close",
    "Content-Type": "text/plain",
    "Content-Length": String(Buffer.byteLength(message)),
    ...headers,
  };
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n`;
  for (const name in fields) head += `${name}: ${fields[name]}\r\n`;
  return `${head}\r\n${message}`;
}

function refuse(status: number, message: string, headers?: Record<string, string>): UpgradeCheck {
  return headers === undefined ? { ok: false, status, message } : { ok: false, status, message, headers };
}
