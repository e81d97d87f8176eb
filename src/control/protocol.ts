/**
 * The admin control channel between parleyctl and a running server: one JSON request line and
 * one JSON response line over a unix socket that only the server's user can open (mode 0600),
 * so no token and no network port are involved.
 */
export interface ControlRequest {
  command: string;
  args: string[];
}

/** `usage` marks bad arguments (parleyctl exits 2 for those, 1 for other refusals). */
export type ControlResponse =
  | { ok: true; result: string | string[] | Record<string, unknown> }
  | { ok: false; error: string; usage?: boolean };
