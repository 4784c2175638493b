/**
 * RFC 6455 framing for the server side of a WebSocket, read from and written
 * to the raw `net.Socket` of an HTTP upgrade (see websocket-upgrade.ts).
 *
 * Why not `ws`: each ws connection costs ~1 KB of heap (a WebSocket, a
 * Receiver that is a Writable stream, a Sender, listener objects). Here the
 * parser's state is four plain fields on the caller's connection object and
 * its callbacks are that object's methods, so an idle connection carries
 * nothing else. No extension is ever negotiated, so RSV bits are always an
 * error and nothing is compressed.
 *
 * Assumptions `readFrames` makes of its caller:
 * - A chunk belongs to the parser: payloads are unmasked in place. Node gives
 *   every 'data' event of a net.Socket a fresh Buffer, so no one else sees the
 *   bytes change, as long as no other 'data' listener reads them.
 * - A Buffer passed to a handler may be a view into the chunk: decode or copy
 *   it before the handler returns if it is kept, since a view pins the chunk.
 * - Handlers must not call `readFrames` themselves. They may change the
 *   connection's fields (e.g. clear them on teardown): the parser rereads them.
 * - After `onWsClose` or `onWsProtocolError`, the caller stops feeding chunks.
 *   A handler that tears the connection down for its own reasons should
 *   ignore later callbacks for the rest of that chunk.
 */
import { constants as bufferConstants, isUtf8 } from "node:buffer";
import { createRequire } from "node:module";

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** Close codes the parser reports, with ws's choice of code for each failure. */
export const CLOSE_CODE = {
  normal: 1000,
  protocolError: 1002,
  invalidPayload: 1007,
  policyViolation: 1008,
  messageTooBig: 1009,
} as const;

/** What a connection carries for the parser; all of it is undefined/0 while no partial frame or fragmented message is pending. */
export interface FrameReaderState {
  /**
   * Bytes of an incomplete frame carried over to the next chunk. Once the
   * frame's header is complete this is a prefix view of a buffer allocated for
   * the whole frame, filled in place by later chunks.
   */
  wsPartial: Buffer | undefined;
  /** Payloads of a fragmented message so far (copies, not views of chunks). */
  wsFragments: Buffer[] | undefined;
  wsFragmentsBinary: boolean;
  wsFragmentsLength: number;
}

export interface FrameHandler {
  /** A complete text or binary message (text already checked to be valid UTF-8). */
  onWsMessage(data: Buffer, isBinary: boolean): void;
  onWsPing(payload: Buffer): void;
  onWsPong(payload: Buffer): void;
  /** The peer's close frame; code undefined when the frame had no body. Parsing stops. */
  onWsClose(code: number | undefined, reason: string): void;
  /** The connection must be closed with this code; parsing stops. */
  onWsProtocolError(closeCode: number, message: string): void;
}

/**
 * Most fragments one message may have, ws's server default (`maxFragments`),
 * else 1008: each costs a Buffer object, so without a cap a client dribbling a
 * message one byte per frame would hold far more than maxPayload.
 */
const MAX_FRAGMENTS = 16 * 1024;

type Unmask = (buffer: Buffer, mask: Buffer) => void;

/**
 * bufferutil's native XOR. It is CommonJS without type declarations, so it is
 * loaded with require; like ws, we fall back to a JS loop if it is missing.
 */
const nativeUnmask: Unmask | undefined = (() => {
  try {
    return (createRequire(import.meta.url)("bufferutil") as { unmask: Unmask }).unmask;
  } catch {
    return undefined;
  }
})();

function unmask(payload: Buffer, mask: Buffer): void {
  // Below 32 bytes the native call costs more than the loop (ws's threshold).
  if (nativeUnmask !== undefined && payload.length >= 32) {
    nativeUnmask(payload, mask);
    return;
  }
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
}

/**
 * Parses `chunk`, calling the connection's handlers for every complete frame
 * and carrying an incomplete tail over in `wsPartial`. A message over
 * `maxPayload` bytes (pass Infinity for no limit) is refused from its header,
 * before any of its payload is buffered.
 */
export function readFrames(conn: FrameReaderState & FrameHandler, chunk: Buffer, maxPayload: number): void {
  let buf = chunk;
  let pos = 0;
  const partial = conn.wsPartial;
  if (partial !== undefined) {
    conn.wsPartial = undefined;
    const size = frameSize(partial, 0);
    if (size === 0) {
      // A header straddles chunks: the carried part is under 14 bytes, so this
      // copies each byte of a chunk at most once more.
      buf = Buffer.concat([partial, chunk]);
    } else {
      // The header was checked when it arrived; the frame's buffer (see
      // `carry`) has room for part of it and grows by doubling, never past
      // the frame's size, so a frame arriving in n chunks is copied O(log n)
      // times and a header alone reserves nothing it merely claims.
      const want = Math.min(size, partial.length + chunk.length);
      let store = partial;
      if (store.buffer.byteLength < want) {
        store = Buffer.allocUnsafeSlow(Math.min(size, Math.max(want, store.buffer.byteLength * 2)));
        partial.copy(store);
      }
      const room = Buffer.from(store.buffer, store.byteOffset, Math.min(size, store.buffer.byteLength));
      const filled = partial.length + chunk.copy(room, partial.length);
      if (filled < size) {
        conn.wsPartial = room.subarray(0, filled);
        return;
      }
      if (!deliver(conn, room, 0, size)) return;
      pos = size - partial.length;
    }
  }
  while (pos < buf.length) {
    const size = checkHeader(conn, buf, pos, maxPayload);
    if (size < 0) return;
    if (size === 0 || pos + size > buf.length) {
      carry(conn, buf, pos, size);
      return;
    }
    if (!deliver(conn, buf, pos, size)) return;
    pos += size;
  }
}

/** Header bytes, including the 4-byte mask key, for the 7-bit length field `len7`. */
function headerSize(len7: number): number {
  return len7 < 126 ? 6 : len7 === 126 ? 8 : 14;
}

/** The payload length in the header at `pos`, or -1 while the length field is incomplete. */
function payloadLength(buf: Buffer, pos: number): number {
  const available = buf.length - pos;
  if (available < 2) return -1;
  const len7 = buf[pos + 1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 === 126) return available < 4 ? -1 : buf.readUInt16BE(pos + 2);
  // Exact up to 2^53; anything larger is refused by checkHeader anyway.
  return available < 10 ? -1 : buf.readUInt32BE(pos + 2) * 0x100000000 + buf.readUInt32BE(pos + 6);
}

/** Bytes the frame at `pos` occupies, header and payload, or 0 while its header is incomplete. */
function frameSize(buf: Buffer, pos: number): number {
  const length = payloadLength(buf, pos);
  if (length < 0) return 0;
  const head = headerSize(buf[pos + 1] & 0x7f);
  return buf.length - pos < head ? 0 : head + length;
}

/**
 * Checks the frame header at `pos` as far as it has arrived, so a bad frame is
 * refused at its first bytes. Returns the frame's size once the header is
 * complete, 0 while it is not, -1 after reporting a protocol error.
 */
function checkHeader(conn: FrameReaderState & FrameHandler, buf: Buffer, pos: number, maxPayload: number): number {
  if (buf.length - pos < 2) return 0;
  const b0 = buf[pos];
  const b1 = buf[pos + 1];
  const opcode = b0 & 0x0f;
  if ((b0 & 0x70) !== 0) return fail(conn, CLOSE_CODE.protocolError, "RSV1, RSV2 and RSV3 must be clear");
  if (opcode >= OPCODE.close) {
    if (opcode > OPCODE.pong) return fail(conn, CLOSE_CODE.protocolError, `Invalid opcode ${opcode}`);
    if ((b0 & 0x80) === 0) return fail(conn, CLOSE_CODE.protocolError, "FIN must be set on a control frame");
    if ((b1 & 0x7f) > 125) return fail(conn, CLOSE_CODE.protocolError, "Control frame payload over 125 bytes");
  } else if (opcode === OPCODE.continuation) {
    if (conn.wsFragments === undefined) return fail(conn, CLOSE_CODE.protocolError, "Continuation frame without a message");
  } else if (opcode === OPCODE.text || opcode === OPCODE.binary) {
    if (conn.wsFragments !== undefined) return fail(conn, CLOSE_CODE.protocolError, "New message inside a fragmented one");
  } else {
    return fail(conn, CLOSE_CODE.protocolError, `Invalid opcode ${opcode}`);
  }
  if ((b1 & 0x80) === 0) return fail(conn, CLOSE_CODE.protocolError, "Client frames must be masked");

  const length = payloadLength(buf, pos);
  if (length < 0) return 0;
  if (opcode < OPCODE.close) {
    const fragments = conn.wsFragments;
    const total = fragments === undefined ? length : conn.wsFragmentsLength + length;
    // A 64-bit length over what a Buffer can hold (≤ 2^53 - 1, which also
    // covers a set top bit) is 1009 like an oversized message, as in ws.
    if (total > maxPayload || total > bufferConstants.MAX_LENGTH) {
      return fail(conn, CLOSE_CODE.messageTooBig, "Max payload size exceeded");
    }
    if (fragments !== undefined && fragments.length >= MAX_FRAGMENTS) {
      return fail(conn, CLOSE_CODE.policyViolation, "Too many message fragments");
    }
  }
  return frameSize(buf, pos);
}

/** Keeps the incomplete frame at `pos` for the next chunk, copied so the chunk is not pinned. */
function carry(conn: FrameReaderState, buf: Buffer, pos: number, size: number): void {
  if (size === 0) {
    conn.wsPartial = Buffer.from(buf.subarray(pos));
    return;
  }
  // Its own ArrayBuffer (not a pool slice), sized for what has arrived and
  // as much again: a client that sends a header claiming 1 MB and stops
  // holds kilobytes, not the megabyte.
  const have = buf.length - pos;
  const frame = Buffer.allocUnsafeSlow(Math.min(size, Math.max(have * 2, 1024)));
  buf.copy(frame, 0, pos);
  conn.wsPartial = frame.subarray(0, have);
}

/** Handles the complete, checked frame at `pos`. Returns false when parsing must stop. */
function deliver(conn: FrameReaderState & FrameHandler, buf: Buffer, pos: number, size: number): boolean {
  const b0 = buf[pos];
  const opcode = b0 & 0x0f;
  const fin = (b0 & 0x80) !== 0;
  const head = headerSize(buf[pos + 1] & 0x7f);
  const payload = buf.subarray(pos + head, pos + size);
  unmask(payload, buf.subarray(pos + head - 4, pos + head));

  if (opcode >= OPCODE.close) return control(conn, opcode, payload);
  if (opcode !== OPCODE.continuation) {
    if (fin) return message(conn, payload, opcode === OPCODE.binary);
    // A fragment is copied: a view would pin its whole chunk (often 64 KiB)
    // for as long as the message stays open.
    conn.wsFragments = [Buffer.from(payload)];
    conn.wsFragmentsBinary = opcode === OPCODE.binary;
    conn.wsFragmentsLength = payload.length;
    return true;
  }
  const fragments = conn.wsFragments!;
  const length = conn.wsFragmentsLength + payload.length;
  if (!fin) {
    fragments.push(Buffer.from(payload));
    conn.wsFragmentsLength = length;
    return true;
  }
  const binary = conn.wsFragmentsBinary;
  resetState(conn);
  fragments.push(payload);
  return message(conn, Buffer.concat(fragments, length), binary);
}

function message(conn: FrameReaderState & FrameHandler, data: Buffer, binary: boolean): boolean {
  if (!binary && !isUtf8(data)) {
    fail(conn, CLOSE_CODE.invalidPayload, "Invalid UTF-8 in a text message");
    return false;
  }
  conn.onWsMessage(data, binary);
  return true;
}

function control(conn: FrameReaderState & FrameHandler, opcode: number, payload: Buffer): boolean {
  if (opcode === OPCODE.ping) {
    conn.onWsPing(payload);
    return true;
  }
  if (opcode === OPCODE.pong) {
    conn.onWsPong(payload);
    return true;
  }
  if (payload.length === 1) {
    fail(conn, CLOSE_CODE.protocolError, "Close frame body of 1 byte");
    return false;
  }
  let code: number | undefined;
  let reason = "";
  if (payload.length >= 2) {
    code = payload.readUInt16BE(0);
    if (!isValidCloseCode(code)) {
      fail(conn, CLOSE_CODE.protocolError, `Invalid close code ${code}`);
      return false;
    }
    const reasonBytes = payload.subarray(2);
    if (!isUtf8(reasonBytes)) {
      fail(conn, CLOSE_CODE.invalidPayload, "Invalid UTF-8 in the close reason");
      return false;
    }
    reason = reasonBytes.toString();
  }
  // Anything pending is moot once the peer has closed; let it go.
  resetState(conn);
  conn.onWsClose(code, reason);
  return false;
}

/** RFC 6455 §7.4: 1004-1006 and 1015 are reserved and never sent; 3000-4999 belong to applications. */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

function resetState(conn: FrameReaderState): void {
  conn.wsPartial = undefined;
  conn.wsFragments = undefined;
  conn.wsFragmentsBinary = false;
  conn.wsFragmentsLength = 0;
}

/** Reports a protocol error after releasing anything buffered; returns -1 for checkHeader's convenience. */
function fail(conn: FrameReaderState & FrameHandler, code: number, message: string): -1 {
  resetState(conn);
  conn.onWsProtocolError(code, message);
  return -1;
}

// Encoding, server to client: frames are never masked.

/** Writes a header for an unmasked frame into `target`; returns its length (2, 4 or 10). */
function writeHeader(target: Buffer, opcode: number, length: number, fin: boolean): number {
  target[0] = (fin ? 0x80 : 0) | opcode;
  if (length < 126) {
    target[1] = length;
    return 2;
  }
  if (length < 0x10000) {
    target[1] = 126;
    target.writeUInt16BE(length, 2);
    return 4;
  }
  target[1] = 127;
  target.writeUInt32BE(Math.floor(length / 0x100000000), 2);
  target.writeUInt32BE(length >>> 0, 6);
  return 10;
}

function unmaskedHeaderSize(length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10;
}

export function frameHeader(opcode: number, length: number, fin = true): Buffer {
  const header = Buffer.allocUnsafe(unmaskedHeaderSize(length));
  writeHeader(header, opcode, length, fin);
  return header;
}

/** Header and UTF-8 payload in one allocation, so one socket write. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const frame = Buffer.allocUnsafe(unmaskedHeaderSize(length) + length);
  frame.write(text, writeHeader(frame, OPCODE.text, length, true));
  return frame;
}

/** The payload is not copied: write both (e.g. with `socket.cork()`, or `writev`). */
export function binaryFrame(data: Buffer): Buffer[] {
  return [frameHeader(OPCODE.binary, data.length), data];
}

const EMPTY = Buffer.alloc(0);

export function pingFrame(payload: Buffer = EMPTY): Buffer {
  return controlFrame(OPCODE.ping, payload);
}

export function pongFrame(payload: Buffer): Buffer {
  return controlFrame(OPCODE.pong, payload);
}

/** With no code the frame has no body (the peer sees 1005); a reason needs a code. */
export function closeFrame(code?: number, reason = ""): Buffer {
  if (code === undefined) {
    if (reason !== "") throw new TypeError("A close reason needs a close code");
    return controlFrame(OPCODE.close, EMPTY);
  }
  if (!isValidCloseCode(code)) throw new RangeError(`Invalid close code ${code}`);
  const length = 2 + Buffer.byteLength(reason);
  if (length > 125) throw new RangeError("A close reason is at most 123 bytes");
  const frame = Buffer.allocUnsafe(2 + length);
  frame[0] = 0x80 | OPCODE.close;
  frame[1] = length;
  frame.writeUInt16BE(code, 2);
  frame.write(reason, 4);
  return frame;
}

function controlFrame(opcode: number, payload: Buffer): Buffer {
  // RFC 6455 §5.5: control frames carry at most 125 bytes and are never fragmented.
  if (payload.length > 125) throw new RangeError("A control frame's payload is at most 125 bytes");
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = payload.length;
  payload.copy(frame, 2);
  return frame;
}
