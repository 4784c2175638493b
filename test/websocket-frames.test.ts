/**
 * The server-side WebSocket codec and handshake: the parser fed hand-built
 * client frames (whole, split at every byte, with every error), the encoder's
 * bytes, and a real HTTP server driven by the `ws` client and by raw sockets.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import {
  CLOSE_CODE,
  OPCODE,
  binaryFrame,
  closeFrame,
  frameHeader,
  pingFrame,
  pongFrame,
  readFrames,
  textFrame,
  type FrameHandler,
  type FrameReaderState,
} from "../gateway/src/websocket-frames.js";
import { acceptResponse, checkUpgrade, refusalResponse } from "../gateway/src/websocket-upgrade.js";

// ---------------------------------------------------------------------------
// Building client frames and recording what the parser reports.

interface FrameOptions {
  fin?: boolean;
  /** RSV bits as they sit in the first byte (0x40, 0x20, 0x10). */
  rsv?: number;
  masked?: boolean;
  /** Claimed payload length, when it should differ from the payload sent. */
  claimedLength?: number;
  /** Write the claimed length as a 64-bit field with these high 32 bits. */
  high32?: number;
}

/** A client frame as a browser would send it: masked with a random key. */
function clientFrame(opcode: number, payload: Buffer | string = Buffer.alloc(0), opts: FrameOptions = {}): Buffer {
  const data = typeof payload === "string" ? Buffer.from(payload) : payload;
  const { fin = true, rsv = 0, masked = true } = opts;
  const length = opts.claimedLength ?? data.length;
  let header: Buffer;
  if (opts.high32 !== undefined || length > 0xffff) {
    header = Buffer.alloc(10);
    header[1] = 127;
    header.writeUInt32BE(opts.high32 ?? Math.floor(length / 0x100000000), 2);
    header.writeUInt32BE(length >>> 0, 6);
  } else if (length > 125) {
    header = Buffer.alloc(4);
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(2);
    header[1] = length;
  }
  header[0] = (fin ? 0x80 : 0) | rsv | opcode;
  if (!masked) return Buffer.concat([header, data]);
  header[1] |= 0x80;
  const mask = randomBytes(4);
  const body = Buffer.from(data);
  for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
  return Buffer.concat([header, mask, body]);
}

function closeBody(code: number, reason: Buffer | string = ""): Buffer {
  const body = Buffer.alloc(2);
  body.writeUInt16BE(code);
  return Buffer.concat([body, typeof reason === "string" ? Buffer.from(reason) : reason]);
}

type Event =
  | { type: "message"; data: Buffer; binary: boolean }
  | { type: "ping" | "pong"; data: Buffer }
  | { type: "close"; code: number | undefined; reason: string }
  | { type: "error"; code: number; message: string };

/** A connection for the parser that records every callback (copying data, which may be a view of the chunk). */
class Recorder implements FrameReaderState, FrameHandler {
  wsPartial: Buffer | undefined = undefined;
  wsFragments: Buffer[] | undefined = undefined;
  wsFragmentsBinary = false;
  wsFragmentsLength = 0;
  events: Event[] = [];

  onWsMessage(data: Buffer, binary: boolean): void {
    this.events.push({ type: "message", data: Buffer.from(data), binary });
  }
  onWsPing(payload: Buffer): void {
    this.events.push({ type: "ping", data: Buffer.from(payload) });
  }
  onWsPong(payload: Buffer): void {
    this.events.push({ type: "pong", data: Buffer.from(payload) });
  }
  onWsClose(code: number | undefined, reason: string): void {
    this.events.push({ type: "close", code, reason });
  }
  onWsProtocolError(code: number, message: string): void {
    this.events.push({ type: "error", code, message });
  }

  get idle(): boolean {
    return this.wsPartial === undefined && this.wsFragments === undefined && this.wsFragmentsLength === 0 && !this.wsFragmentsBinary;
  }
}

const MAX = 1024 * 1024;

/** Feeds `chunks` (copied, since the parser unmasks in place) to a fresh recorder. */
function parse(chunks: Buffer[], maxPayload = MAX): Recorder {
  const conn = new Recorder();
  for (const chunk of chunks) readFrames(conn, Buffer.from(chunk), maxPayload);
  return conn;
}

const text = (s: string): Event => ({ type: "message", data: Buffer.from(s), binary: false });
const binary = (b: Buffer): Event => ({ type: "message", data: b, binary: true });
const errorCode = (conn: Recorder) => conn.events.flatMap((e) => (e.type === "error" ? [e.code] : []));

// ---------------------------------------------------------------------------

describe("readFrames", () => {
  it("reads text, binary and empty messages", () => {
    const bytes = randomBytes(100);
    const conn = parse([
      clientFrame(OPCODE.text, "hello"),
      clientFrame(OPCODE.binary, bytes),
      clientFrame(OPCODE.text, ""),
      clientFrame(OPCODE.binary),
      clientFrame(OPCODE.text, "héllo wörld €𝄞"),
    ]);
    assert.deepEqual(conn.events, [text("hello"), binary(bytes), text(""), binary(Buffer.alloc(0)), text("héllo wörld €𝄞")]);
    assert.ok(conn.idle);
  });

  it("reads 7-bit, 16-bit and 64-bit lengths at their boundaries", () => {
    for (const size of [125, 126, 127, 0xffff, 0x10000, 70_000]) {
      const payload = randomBytes(size);
      const frame = clientFrame(OPCODE.binary, payload);
      const headerBytes = size <= 125 ? 6 : size <= 0xffff ? 8 : 14;
      assert.equal(frame.length, headerBytes + size, `frame of ${size}`);
      assert.deepEqual(parse([frame]).events, [binary(payload)], `payload of ${size}`);
    }
  });

  it("reads a 64-bit length even when it would fit in 16 bits", () => {
    const payload = Buffer.from("short");
    assert.deepEqual(parse([clientFrame(OPCODE.text, payload, { high32: 0 })]).events, [text("short")]);
  });

  it("reads several frames in one chunk", () => {
    const a = randomBytes(40);
    const chunk = Buffer.concat([
      clientFrame(OPCODE.text, "one"),
      clientFrame(OPCODE.ping, "p"),
      clientFrame(OPCODE.binary, a),
      clientFrame(OPCODE.pong, "q"),
      clientFrame(OPCODE.text, "two"),
    ]);
    assert.deepEqual(parse([chunk]).events, [
      text("one"),
      { type: "ping", data: Buffer.from("p") },
      binary(a),
      { type: "pong", data: Buffer.from("q") },
      text("two"),
    ]);
  });

  describe("split across chunks", () => {
    // Covers every header form, a fragmented message with a ping inside, and payloads on
    // both sides of bufferutil's 32-byte threshold.
    const big = randomBytes(300);
    const wire = Buffer.concat([
      clientFrame(OPCODE.text, "héllo"),
      clientFrame(OPCODE.binary, big),
      clientFrame(OPCODE.text, "frag-", { fin: false }),
      clientFrame(OPCODE.ping, "in between"),
      clientFrame(OPCODE.continuation, "men", { fin: false }),
      clientFrame(OPCODE.continuation, "ted €"),
      clientFrame(OPCODE.binary, randomBytes(31).fill(7)),
      clientFrame(OPCODE.text, "x".repeat(33), { high32: 0 }),
      clientFrame(OPCODE.close, closeBody(1000, "bye")),
    ]);
    const expected: Event[] = [
      text("héllo"),
      binary(big),
      { type: "ping", data: Buffer.from("in between") },
      text("frag-mented €"),
      binary(Buffer.alloc(31, 7)),
      text("x".repeat(33)),
      { type: "close", code: 1000, reason: "bye" },
    ];

    it("gives the same events when split at every byte boundary", () => {
      for (let at = 0; at <= wire.length; at++) {
        const conn = parse([wire.subarray(0, at), wire.subarray(at)]);
        assert.deepEqual(conn.events, expected, `split at ${at}`);
        assert.ok(conn.idle, `state left after split at ${at}`);
      }
    });

    it("gives the same events when split at every pair of boundaries", () => {
      // Three chunks: catches a header that straddles two carried pieces.
      for (let a = 0; a <= 40; a++) {
        for (let b = a; b <= wire.length; b += 7) {
          const conn = parse([wire.subarray(0, a), wire.subarray(a, b), wire.subarray(b)]);
          assert.deepEqual(conn.events, expected, `split at ${a} and ${b}`);
        }
      }
    });

    it("gives the same events when fed one byte at a time", () => {
      const conn = parse([...wire].map((byte) => Buffer.of(byte)));
      assert.deepEqual(conn.events, expected);
      assert.ok(conn.idle);
    });

    it("reads a 64-bit-length frame fed one byte at a time, and split in its header", () => {
      const payload = randomBytes(70_000);
      const frame = clientFrame(OPCODE.binary, payload);
      const oneByOne = new Recorder();
      for (let i = 0; i < frame.length; i++) {
        readFrames(oneByOne, frame.subarray(i, i + 1), MAX);
        if (i < frame.length - 1) assert.equal(oneByOne.events.length, 0);
      }
      assert.deepEqual(oneByOne.events, [binary(payload)]);
      for (let at = 1; at <= 20; at++) {
        assert.deepEqual(parse([frame.subarray(0, at), frame.subarray(at)]).events, [binary(payload)], `split at ${at}`);
      }
    });
  });

  it("delivers control frames between the fragments of a message", () => {
    const conn = parse([
      Buffer.concat([
        clientFrame(OPCODE.binary, Buffer.of(1, 2), { fin: false }),
        clientFrame(OPCODE.ping, "a"),
        clientFrame(OPCODE.continuation, Buffer.alloc(0), { fin: false }),
        clientFrame(OPCODE.pong, "b"),
        clientFrame(OPCODE.continuation, Buffer.of(3)),
      ]),
    ]);
    assert.deepEqual(conn.events, [
      { type: "ping", data: Buffer.from("a") },
      { type: "pong", data: Buffer.from("b") },
      binary(Buffer.of(1, 2, 3)),
    ]);
    assert.ok(conn.idle);
  });

  it("accepts a UTF-8 sequence split across fragments that is valid when joined", () => {
    const euro = Buffer.from("€"); // e2 82 ac
    const conn = parse([
      clientFrame(OPCODE.text, Buffer.concat([Buffer.from("a"), euro.subarray(0, 2)]), { fin: false }),
      clientFrame(OPCODE.continuation, Buffer.concat([euro.subarray(2), Buffer.from("b")])),
    ]);
    assert.deepEqual(conn.events, [text("a€b")]);
  });

  it("refuses with 1007 a fragmented text message that is invalid when joined", () => {
    const conn = parse([
      clientFrame(OPCODE.text, Buffer.of(0x61, 0xe2), { fin: false }),
      clientFrame(OPCODE.continuation, Buffer.from("b")),
    ]);
    assert.deepEqual(errorCode(conn), [1007]);
    assert.equal(conn.events.length, 1);
  });

  it("reports a close without a body as code undefined, and stops there", () => {
    const conn = parse([Buffer.concat([clientFrame(OPCODE.close), clientFrame(OPCODE.text, "after")])]);
    assert.deepEqual(conn.events, [{ type: "close", code: undefined, reason: "" }]);
  });

  it("accepts every valid close code", () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]) {
      const conn = parse([clientFrame(OPCODE.close, closeBody(code, "why ✓"))]);
      assert.deepEqual(conn.events, [{ type: "close", code, reason: "why ✓" }], `code ${code}`);
    }
  });

  it("drops a fragmented message left open by a close", () => {
    const conn = parse([clientFrame(OPCODE.text, "half", { fin: false }), clientFrame(OPCODE.close, closeBody(1001))]);
    assert.deepEqual(conn.events, [{ type: "close", code: 1001, reason: "" }]);
    assert.ok(conn.idle);
  });

  describe("protocol errors", () => {
    const started = clientFrame(OPCODE.text, "started", { fin: false });
    const cases: Array<[string, number, Buffer[]]> = [
      ["an unmasked frame", 1002, [clientFrame(OPCODE.text, "hi", { masked: false })]],
      ["RSV1 (no permessage-deflate)", 1002, [clientFrame(OPCODE.text, "hi", { rsv: 0x40 })]],
      ["RSV2", 1002, [clientFrame(OPCODE.binary, "hi", { rsv: 0x20 })]],
      ["RSV3", 1002, [clientFrame(OPCODE.ping, "", { rsv: 0x10 })]],
      ["reserved data opcode 3", 1002, [clientFrame(3, "hi")]],
      ["reserved data opcode 7", 1002, [clientFrame(7, "hi")]],
      ["reserved control opcode 0xB", 1002, [clientFrame(0xb)]],
      ["reserved control opcode 0xF", 1002, [clientFrame(0xf)]],
      ["a ping without FIN", 1002, [clientFrame(OPCODE.ping, "p", { fin: false })]],
      ["a close without FIN", 1002, [clientFrame(OPCODE.close, closeBody(1000), { fin: false })]],
      ["a ping of 126 bytes", 1002, [clientFrame(OPCODE.ping, Buffer.alloc(126))]],
      ["a pong with a 64-bit length", 1002, [clientFrame(OPCODE.pong, "p", { high32: 0 })]],
      ["a continuation with no message in progress", 1002, [clientFrame(OPCODE.continuation, "x")]],
      ["a text frame inside a fragmented message", 1002, [started, clientFrame(OPCODE.text, "new")]],
      ["a binary frame inside a fragmented message", 1002, [started, clientFrame(OPCODE.binary, "new")]],
      ["a 64-bit length with the top bit set", 1009, [clientFrame(OPCODE.binary, "", { claimedLength: 1, high32: 0x80000000 })]],
      ["a 64-bit length of 2^53", 1009, [clientFrame(OPCODE.binary, "", { claimedLength: 0, high32: 0x200000 })]],
      ["a text frame over maxPayload", 1009, [clientFrame(OPCODE.text, "x".repeat(MAX + 1))]],
      [
        "fragments adding up to more than maxPayload",
        1009,
        [clientFrame(OPCODE.binary, Buffer.alloc(MAX / 2), { fin: false }), clientFrame(OPCODE.continuation, Buffer.alloc(MAX / 2 + 1))],
      ],
      ["invalid UTF-8 in a text frame", 1007, [clientFrame(OPCODE.text, Buffer.of(0x68, 0xff, 0x69))]],
      ["a lone surrogate encoded in a text frame", 1007, [clientFrame(OPCODE.text, Buffer.of(0xed, 0xa0, 0x80))]],
      ["a truncated sequence at the end of a text frame", 1007, [clientFrame(OPCODE.text, Buffer.of(0x61, 0xe2, 0x82))]],
      ["a close body of 1 byte", 1002, [clientFrame(OPCODE.close, Buffer.of(3))]],
      ...[0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535].map(
        (code): [string, number, Buffer[]] => [`close code ${code}`, 1002, [clientFrame(OPCODE.close, closeBody(code))]],
      ),
      ["invalid UTF-8 in a close reason", 1007, [clientFrame(OPCODE.close, closeBody(1000, Buffer.of(0xc3, 0x28)))]],
    ];

    for (const [label, code, frames] of cases) {
      it(`${label} → ${code}, and nothing after it is delivered`, () => {
        // A valid message right after the bad frame, in the same chunk, must not be delivered.
        const conn = parse([Buffer.concat([...frames, clientFrame(OPCODE.text, "after")])]);
        assert.equal(conn.events.length, 1, JSON.stringify(conn.events));
        assert.deepEqual(errorCode(conn), [code]);
        assert.ok(conn.idle, "state released after the error");
      });
    }

    it("closes with 1008 after 16384 fragments of one message", () => {
      const fragment = clientFrame(OPCODE.continuation, "y", { fin: false });
      const conn = new Recorder();
      readFrames(conn, clientFrame(OPCODE.text, "x", { fin: false }), MAX);
      for (let i = 1; i < 16 * 1024; i++) readFrames(conn, Buffer.from(fragment), MAX);
      assert.equal(conn.events.length, 0);
      readFrames(conn, Buffer.from(fragment), MAX);
      assert.deepEqual(errorCode(conn), [CLOSE_CODE.policyViolation]);
    });
  });

  describe("maxPayload", () => {
    it("accepts a message of exactly maxPayload, in one frame and in fragments", () => {
      assert.equal(parse([clientFrame(OPCODE.binary, Buffer.alloc(1000))], 1000).events[0].type, "message");
      const fragmented = parse(
        [clientFrame(OPCODE.binary, Buffer.alloc(600), { fin: false }), clientFrame(OPCODE.continuation, Buffer.alloc(400))],
        1000,
      );
      assert.equal(fragmented.events[0].type, "message");
    });

    it("refuses a frame claiming 10 MB from its header alone, buffering nothing", () => {
      const header = clientFrame(OPCODE.binary, "", { claimedLength: 10 * 1024 * 1024 });
      // The 10-byte length field is enough: the mask key has not even arrived.
      const conn = parse([header.subarray(0, 10)]);
      assert.deepEqual(errorCode(conn), [1009]);
      assert.equal(conn.wsPartial, undefined);
      // Likewise byte by byte: the error comes with the length field's last byte.
      const slow = new Recorder();
      for (let i = 0; i < 10; i++) {
        assert.equal(slow.events.length, 0, `no error before byte ${i}`);
        readFrames(slow, header.subarray(i, i + 1), MAX);
      }
      assert.deepEqual(errorCode(slow), [1009]);
    });

    it("refuses a length no Buffer can hold even with no limit (maxPayload Infinity)", () => {
      for (const high32 of [0x80000000, 0x200000]) {
        const header = clientFrame(OPCODE.binary, "", { claimedLength: 0, high32 });
        assert.deepEqual(errorCode(parse([header], Infinity)), [1009], `high 32 bits ${high32.toString(16)}`);
      }
    });

    it("refuses a continuation that would take the message over maxPayload from its header", () => {
      const first = clientFrame(OPCODE.binary, Buffer.alloc(600 * 1024), { fin: false });
      const next = clientFrame(OPCODE.continuation, "", { claimedLength: 600 * 1024 });
      const conn = parse([first, next.subarray(0, 10)]); // the 64-bit length, no mask key yet
      assert.deepEqual(errorCode(conn), [1009]);
      assert.ok(conn.idle);
    });

    it("carries no more than the frame's own bytes while a large frame arrives", () => {
      const payload = randomBytes(200_000);
      const frame = clientFrame(OPCODE.binary, payload);
      const conn = new Recorder();
      readFrames(conn, frame.subarray(0, 50_000), MAX);
      assert.equal(conn.wsPartial?.length, 50_000);
      assert.ok(conn.wsPartial!.buffer.byteLength <= 100_000, `holds ${conn.wsPartial!.buffer.byteLength} bytes for 50,000 received`);
      readFrames(conn, frame.subarray(50_000, 150_000), MAX);
      assert.equal(conn.wsPartial?.length, 150_000);
      readFrames(conn, Buffer.concat([frame.subarray(150_000), clientFrame(OPCODE.text, "next")]), MAX);
      assert.deepEqual(conn.events, [binary(payload), text("next")]);
      assert.ok(conn.idle);
    });
  });

  it("reserves memory for the bytes received, not for the length a header claims", () => {
    // A header claiming 1 MB, then silence: what the connection holds must stay tiny.
    const header = clientFrame(OPCODE.binary, Buffer.alloc(1_000_000)).subarray(0, 14 + 10);
    const conn = new Recorder();
    readFrames(conn, header, 2_000_000);
    assert.equal(conn.wsPartial?.length, 24);
    assert.ok(conn.wsPartial!.buffer.byteLength <= 1024, `holds ${conn.wsPartial!.buffer.byteLength} bytes for a 24-byte start`);
    assert.deepEqual(conn.events, []);
  });

  it("rereads the connection's fields after each handler call", () => {
    // A handler that tears the message state down (as a connection's teardown would) must not
    // leave the parser working from stale locals.
    const conn = new Recorder();
    conn.onWsPing = function (this: Recorder) {
      this.wsFragments = undefined;
      this.wsFragmentsLength = 0;
    };
    readFrames(
      conn,
      Buffer.concat([clientFrame(OPCODE.text, "a", { fin: false }), clientFrame(OPCODE.ping), clientFrame(OPCODE.continuation, "b")]),
      MAX,
    );
    assert.deepEqual(errorCode(conn), [1002]);
  });
});

// ---------------------------------------------------------------------------

describe("frame encoding", () => {
  it("sizes the header by payload length: 2, 4 or 10 bytes", () => {
    for (const [length, size, len7] of [
      [0, 2, 0],
      [125, 2, 125],
      [126, 4, 126],
      [65535, 4, 126],
      [65536, 10, 127],
      [2 ** 32 + 5, 10, 127],
    ]) {
      const header = frameHeader(OPCODE.binary, length);
      assert.equal(header.length, size, `header for ${length}`);
      assert.equal(header[0], 0x82);
      assert.equal(header[1], len7, "never masked");
      if (size === 4) assert.equal(header.readUInt16BE(2), length);
      if (size === 10) assert.equal(header.readUInt32BE(2) * 2 ** 32 + header.readUInt32BE(6), length);
    }
    assert.equal(frameHeader(OPCODE.text, 3, false)[0], 0x01);
    assert.equal(frameHeader(OPCODE.continuation, 3, true)[0], 0x80);
  });

  it("writes a text frame as one buffer, lengths counted in UTF-8 bytes", () => {
    for (const s of ["", "a".repeat(125), "a".repeat(126), "é".repeat(63), "€".repeat(21_845), "a".repeat(65536)]) {
      const payload = Buffer.from(s);
      const frame = textFrame(s);
      const header = frameHeader(OPCODE.text, payload.length);
      assert.deepEqual(frame, Buffer.concat([header, payload]), `text of ${payload.length} bytes`);
    }
  });

  it("writes a binary frame as its header and the data itself", () => {
    const data = randomBytes(300);
    const [header, body] = binaryFrame(data);
    assert.deepEqual(header, Buffer.of(0x82, 126, 1, 44));
    assert.equal(body, data);
  });

  it("writes control frames", () => {
    assert.deepEqual(pingFrame(), Buffer.of(0x89, 0));
    assert.deepEqual(pingFrame(Buffer.from("hi")), Buffer.of(0x89, 2, 0x68, 0x69));
    assert.deepEqual(pongFrame(Buffer.from("hi")), Buffer.of(0x8a, 2, 0x68, 0x69));
    assert.deepEqual(closeFrame(), Buffer.of(0x88, 0));
    assert.deepEqual(closeFrame(1000), Buffer.of(0x88, 2, 0x03, 0xe8));
    assert.deepEqual(closeFrame(1009, "big"), Buffer.of(0x88, 5, 0x03, 0xf1, 0x62, 0x69, 0x67));
    assert.equal(closeFrame(4000, "x".repeat(123)).length, 127);
  });

  it("refuses control frames the RFC forbids", () => {
    assert.throws(() => pingFrame(Buffer.alloc(126)), RangeError);
    assert.throws(() => closeFrame(1000, "x".repeat(124)), RangeError);
    assert.throws(() => closeFrame(1005), RangeError);
    assert.throws(() => closeFrame(undefined, "why"), TypeError);
  });
});

// ---------------------------------------------------------------------------
// A real server: the handshake and codec on a net.Socket, driven by ws and raw sockets.

const SERVER_MAX = 200 * 1024;
const TIMEOUT_MS = 5000;

/** Per-connection state of the echo server, as plain fields like the gateway will keep. */
interface EchoConnection extends FrameReaderState, FrameHandler {
  socket: Socket;
  /** We sent a close frame and wait for the client's. */
  closing: boolean;
  /** The parser reported a close or an error: it gets no more chunks. */
  done: boolean;
  /** 'data' events so far, to show a message spanned several. */
  chunks: number;
}

function echoConnection(socket: Socket, seen: { messages: Buffer[]; pongs: Buffer[]; chunks: number[] }): EchoConnection {
  return {
    socket,
    closing: false,
    done: false,
    chunks: 0,
    wsPartial: undefined,
    wsFragments: undefined,
    wsFragmentsBinary: false,
    wsFragmentsLength: 0,
    onWsMessage(data, isBinary) {
      seen.messages.push(Buffer.from(data));
      seen.chunks.push(this.chunks);
      if (!isBinary && data.toString() === "close please") {
        this.closing = true;
        this.socket.write(closeFrame(1000, "server says bye"));
      } else if (isBinary) {
        this.socket.cork();
        for (const part of binaryFrame(data)) this.socket.write(part);
        this.socket.uncork();
      } else {
        this.socket.write(textFrame(data.toString()));
      }
    },
    onWsPing(payload) {
      this.socket.write(pongFrame(payload));
    },
    onWsPong(payload) {
      seen.pongs.push(Buffer.from(payload));
    },
    onWsClose(code, reason) {
      // Echo the peer's close (RFC 6455 §5.5.1) unless we sent ours first.
      this.done = true;
      if (this.closing) this.socket.end();
      else this.socket.end(closeFrame(code, reason));
    },
    onWsProtocolError(code, message) {
      this.done = true;
      this.socket.end(closeFrame(code, message));
    },
  };
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]);
}

describe("on a real server", () => {
  let server: Server;
  let port = 0;
  const sockets = new Set<Socket>();
  const clients = new Set<WebSocket>();
  const seen = { messages: [] as Buffer[], pongs: [] as Buffer[], chunks: [] as number[] };

  before(async () => {
    server = createServer((_req, res) => res.writeHead(404).end());
    server.on("upgrade", (req, socket: Socket, head: Buffer) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
      const check = checkUpgrade(req);
      if (!check.ok) {
        socket.end(refusalResponse(check.status, check.message, check.headers));
        return;
      }
      socket.write(acceptResponse(check.accept, check.protocol));
      const conn = echoConnection(socket, seen);
      if (head.length > 0) readFrames(conn, head, SERVER_MAX);
      socket.on("data", (chunk: Buffer) => {
        conn.chunks++;
        if (!conn.done) readFrames(conn, chunk, SERVER_MAX);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const client of clients) client.terminate();
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  async function open(protocols?: string[]): Promise<WebSocket> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, protocols, { perMessageDeflate: false, handshakeTimeout: TIMEOUT_MS });
    clients.add(ws);
    ws.on("close", () => clients.delete(ws));
    await withTimeout(
      new Promise((resolve, reject) => {
        ws.once("open", resolve);
        ws.once("error", reject);
      }),
      "open",
    );
    return ws;
  }

  function next<T extends unknown[]>(ws: WebSocket, event: string): Promise<T> {
    return withTimeout(new Promise<T>((resolve) => ws.once(event, (...args: unknown[]) => resolve(args as T))), event);
  }

  it("echoes text, multi-byte UTF-8 included", async () => {
    const ws = await open();
    for (const message of ["hello", "héllo wörld € 𝄞 日本語", ""]) {
      const reply = next<[Buffer, boolean]>(ws, "message");
      ws.send(message);
      const [data, isBinary] = await reply;
      assert.equal(isBinary, false);
      assert.equal(data.toString(), message);
    }
    ws.terminate();
  });

  it("echoes a 100 KB text message that arrives in several TCP chunks", async () => {
    const ws = await open();
    const message = "ünïcödé-".repeat(100 * 1024 / 10);
    const reply = next<[Buffer, boolean]>(ws, "message");
    const before = seen.chunks.length;
    ws.send(message);
    const [data, isBinary] = await reply;
    assert.equal(isBinary, false);
    assert.equal(data.toString(), message);
    assert.ok(seen.chunks[before] > 1, `server read it in ${seen.chunks[before]} chunks`);
    ws.terminate();
  });

  it("echoes binary, at every header size", async () => {
    const ws = await open();
    for (const size of [0, 31, 32, 125, 126, 65535, 65536, 150_000]) {
      const payload = randomBytes(size);
      const reply = next<[Buffer, boolean]>(ws, "message");
      ws.send(payload);
      const [data, isBinary] = await reply;
      assert.equal(isBinary, true);
      assert.deepEqual(data, payload, `binary of ${size}`);
    }
    ws.terminate();
  });

  it("echoes a message the client sends in fragments", async () => {
    const ws = await open();
    const reply = next<[Buffer, boolean]>(ws, "message");
    ws.send("part one, ", { fin: false });
    ws.ping("between");
    ws.send("part two", { fin: true });
    const [data] = await reply;
    assert.equal(data.toString(), "part one, part two");
    ws.terminate();
  });

  it("answers a ping with a pong carrying its payload", async () => {
    const ws = await open();
    const pong = next<[Buffer]>(ws, "pong");
    ws.ping("are you there");
    assert.equal((await pong)[0].toString(), "are you there");
    ws.terminate();
  });

  it("reports the client's pongs", async () => {
    const ws = await open();
    const before = seen.pongs.length;
    ws.pong("unsolicited");
    ws.send("sync");
    await next(ws, "message");
    assert.deepEqual(seen.pongs.slice(before).map(String), ["unsolicited"]);
    ws.terminate();
  });

  it("echoes the client's close: code 1000 and its reason", async () => {
    const ws = await open();
    const closed = next<[number, Buffer]>(ws, "close");
    ws.close(1000, "done here");
    const [code, reason] = await closed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), "done here");
  });

  it("closes from the server side with 1000 and a reason the client sees", async () => {
    const ws = await open();
    const closed = next<[number, Buffer]>(ws, "close");
    ws.send("close please");
    const [code, reason] = await closed;
    assert.equal(code, 1000);
    assert.equal(reason.toString(), "server says bye");
  });

  it("closes the client with 1009 when it sends more than maxPayload", async () => {
    const ws = await open();
    const closed = next<[number, Buffer]>(ws, "close");
    ws.on("error", () => {}); // ws may also see the reset after our close
    ws.send(Buffer.alloc(SERVER_MAX + 1));
    const [code] = await closed;
    assert.equal(code, 1009);
  });

  it("echoes the first subprotocol the client offers", async () => {
    const ws = await open(["chat.v2", "chat.v1"]);
    assert.equal(ws.protocol, "chat.v2");
    ws.terminate();
  });

  // Raw sockets: the refusals, the exact accept value, and what ws would never send.

  const RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ==";

  function request(headers: Record<string, string>, method = "GET"): string {
    let text = `${method} / HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
    for (const [name, value] of Object.entries(headers)) text += `${name}: ${value}\r\n`;
    return text + "\r\n";
  }

  const UPGRADE = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": RFC_KEY, "Sec-WebSocket-Version": "13" };
  const without = (headers: Record<string, string>, name: string) => Object.fromEntries(Object.entries(headers).filter(([key]) => key !== name));

  /** Sends `bytes` and collects everything until the server ends the connection. */
  function exchange(...parts: Array<string | Buffer>): Promise<Buffer> {
    return withTimeout(
      new Promise<Buffer>((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        sockets.add(socket);
        const received: Buffer[] = [];
        socket.on("data", (chunk) => received.push(chunk));
        socket.on("error", reject);
        socket.on("close", () => {
          sockets.delete(socket);
          resolve(Buffer.concat(received));
        });
        for (const part of parts) socket.write(part);
      }),
      "exchange",
    );
  }

  function parseResponse(raw: Buffer): { status: string; headers: Map<string, string>; rest: Buffer } {
    const end = raw.indexOf("\r\n\r\n");
    assert.ok(end > 0, `a complete response head in ${JSON.stringify(raw.toString())}`);
    const [status, ...lines] = raw.subarray(0, end).toString().split("\r\n");
    const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(":")).toLowerCase(), line.slice(line.indexOf(":") + 1).trim()]));
    return { status, headers, rest: raw.subarray(end + 4) };
  }

  it("refuses Sec-WebSocket-Version 8 with 426 and the version it speaks", async () => {
    const { status, headers, rest } = parseResponse(await exchange(request({ ...UPGRADE, "Sec-WebSocket-Version": "8" })));
    assert.equal(status, "HTTP/1.1 426 Upgrade Required");
    assert.equal(headers.get("sec-websocket-version"), "13");
    assert.equal(headers.get("connection"), "close");
    assert.equal(headers.get("content-type"), "text/plain");
    assert.equal(headers.get("content-length"), String(rest.length));
    assert.equal(rest.toString(), "Unsupported WebSocket version");
  });

  for (const [label, req, expected] of [
    ["a missing key", request(without(UPGRADE, "Sec-WebSocket-Key")), "HTTP/1.1 400 Bad Request"],
    ["an empty key", request({ ...UPGRADE, "Sec-WebSocket-Key": "" }), "HTTP/1.1 400 Bad Request"],
    ["a missing version", request(without(UPGRADE, "Sec-WebSocket-Version")), "HTTP/1.1 426 Upgrade Required"],
    ["a key that is not 16 bytes of base64", request({ ...UPGRADE, "Sec-WebSocket-Key": "c2hvcnQ=" }), "HTTP/1.1 400 Bad Request"],
    ["an Upgrade other than websocket", request({ ...UPGRADE, Upgrade: "h2c" }), "HTTP/1.1 400 Bad Request"],
    ["a POST", request(UPGRADE, "POST"), "HTTP/1.1 405 Method Not Allowed"],
    ["a subprotocol that is not a token", request({ ...UPGRADE, "Sec-WebSocket-Protocol": "a b, c" }), "HTTP/1.1 400 Bad Request"],
  ]) {
    it(`refuses ${label}`, async () => {
      const { status, headers, rest } = parseResponse(await exchange(req));
      assert.equal(status, expected);
      assert.equal(headers.get("content-length"), String(Buffer.byteLength(rest)));
    });
  }

  it("accepts regardless of the Upgrade header's case, with RFC 6455's example accept value", async () => {
    // Send a close frame right after the handshake so the server ends the connection.
    const close = clientFrame(OPCODE.close, closeBody(1000));
    const raw = await exchange(request({ ...UPGRADE, Upgrade: "WebSocket", "Sec-WebSocket-Extensions": "permessage-deflate" }), close);
    const { status, headers, rest } = parseResponse(raw);
    assert.equal(status, "HTTP/1.1 101 Switching Protocols");
    assert.equal(headers.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert.equal(headers.get("sec-websocket-extensions"), undefined, "no extension negotiated");
    assert.equal(headers.get("sec-websocket-protocol"), undefined);
    assert.deepEqual(rest, closeFrame(1000));
  });

  it("answers an unmasked frame after the handshake with a 1002 close", async () => {
    const raw = await exchange(request(UPGRADE), clientFrame(OPCODE.text, "no mask", { masked: false }), clientFrame(OPCODE.text, "x"));
    const { status, rest } = parseResponse(raw);
    assert.equal(status, "HTTP/1.1 101 Switching Protocols");
    assert.equal(rest[0], 0x88, "a close frame, and nothing before it");
    assert.equal(rest.readUInt16BE(2), 1002);
    assert.equal(rest.length, 2 + rest[1], "nothing after it");
  });

  it("answers frames that arrive with the handshake's first packet", async () => {
    // One write: request head and frames together, so they reach the server as `head`.
    const raw = await exchange(Buffer.concat([Buffer.from(request(UPGRADE)), clientFrame(OPCODE.ping, "early"), clientFrame(OPCODE.close)]));
    const { rest } = parseResponse(raw);
    assert.deepEqual(rest, Buffer.concat([pongFrame(Buffer.from("early")), closeFrame()]));
  });
});
