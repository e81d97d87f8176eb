// The XMPP stream parser used by the server: see docs/xml-parser.md for why this one.
export type { StreamParserHandlers, StreamParserLimits, StreamParserLike } from "./types.js";
export { StrictStreamParser as StreamParser } from "./strict-stream-parser.js";
// RFC 7395 (WebSocket): the same rules, fed one frame (one complete element) per write().
export { FramedStreamParser } from "./framed-stream-parser.js";
