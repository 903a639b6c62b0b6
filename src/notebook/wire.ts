/**
 * Jupyter wire protocol (v5.3) message framing: `[ids…, "<IDS|MSG>", hmac, header, parent_header, metadata,
 * content, buffers…]`, signed with HMAC-SHA256 over the four JSON frames.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "crypto";

export const DELIMITER = "<IDS|MSG>";
export const PROTOCOL_VERSION = "5.3";

export interface MessageHeader {
  msg_id: string;
  msg_type: string;
  session: string;
  username: string;
  date: string;
  version: string;
  [key: string]: unknown;
}

export interface JupyterMessage<C = Record<string, unknown>> {
  identities: Buffer[];
  header: MessageHeader;
  parent_header: Partial<MessageHeader>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

export function newSessionId(): string {
  return randomUUID();
}

export function newKey(): string {
  return randomBytes(32).toString("hex");
}

export function makeHeader(msgType: string, session: string): MessageHeader {
  return {
    msg_id: randomUUID(),
    msg_type: msgType,
    session,
    username: "minicifar-lab",
    date: new Date().toISOString(),
    version: PROTOCOL_VERSION,
  };
}

export function sign(key: string, frames: Array<string | Buffer>): string {
  if (!key) return "";
  const h = createHmac("sha256", key);
  for (const f of frames) h.update(f);
  return h.digest("hex");
}

/** Serialize a message into ZeroMQ frames (identities first, then the delimiter). */
export function encode(
  key: string,
  msg: Pick<JupyterMessage, "header" | "parent_header" | "metadata" | "content"> & { identities?: Buffer[] },
): Buffer[] {
  const bodies = [msg.header, msg.parent_header, msg.metadata, msg.content].map((o) => Buffer.from(JSON.stringify(o)));
  const signature = sign(key, bodies);
  return [...(msg.identities ?? []), Buffer.from(DELIMITER), Buffer.from(signature), ...bodies];
}

/** Parse ZeroMQ frames into a message; throws when the delimiter is missing or the signature does not match. */
export function decode(key: string, frames: Buffer[]): JupyterMessage {
  const idx = frames.findIndex((f) => f.length === DELIMITER.length && f.toString() === DELIMITER);
  if (idx < 0) throw new Error("Jupyter message without <IDS|MSG> delimiter");
  if (frames.length < idx + 6) throw new Error(`Jupyter message has ${frames.length - idx - 1} frames after the delimiter; need 5`);
  const signature = frames[idx + 1].toString();
  const bodies = frames.slice(idx + 2, idx + 6);
  if (key) {
    const expected = Buffer.from(sign(key, bodies));
    const got = Buffer.from(signature);
    if (expected.length !== got.length || !timingSafeEqual(expected, got)) {
      throw new Error("Jupyter message with an invalid HMAC signature");
    }
  }
  const parse = (b: Buffer) => JSON.parse(b.toString("utf8"));
  return {
    identities: frames.slice(0, idx),
    header: parse(bodies[0]),
    parent_header: parse(bodies[1]),
    metadata: parse(bodies[2]),
    content: parse(bodies[3]),
    buffers: frames.slice(idx + 6),
  };
}
