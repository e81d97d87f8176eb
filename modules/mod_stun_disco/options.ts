// mod_stun_disco's options, named, defaulted and meaning as in ejabberd's mod_stun_disco. The
// `services` list is checked here, entry by entry, so a typo is a config error with its key.
import { isIP } from "node:net";
import { opt, OptionError } from "../../src/moduleapi.js";

/** The service types ejabberd offers (XEP-0215 §5 registry: stun, turn; and their TLS forms). */
export const SERVICE_TYPES = ["stun", "turn", "stuns", "turns"] as const;
export type ServiceType = (typeof SERVICE_TYPES)[number];

/** One external STUN/TURN service, defaults filled in. */
export interface Service {
  readonly host: string;
  readonly port: number;
  readonly type: ServiceType;
  readonly transport: "udp" | "tcp";
  /** Credentials are needed, and handed out (XEP-0215 §3.3 'restricted'). */
  readonly restricted: boolean;
}

const SERVICE_KEYS = ["host", "port", "type", "transport", "restricted"];

/** A host name: dot-separated RFC 1123 labels. */
const HOSTNAME =
  /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** ejabberd's defaults: TLS services on 5349 over TCP, the others on 3478 over UDP. */
function tls(type: ServiceType): boolean {
  return type === "stuns" || type === "turns";
}

function parseService(v: unknown, i: number): Service {
  const at = `services[${i}]`;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new OptionError(
      `${at}: expected a map with host (and port, type, transport, restricted)`,
    );
  }
  const m = v as Record<string, unknown>;
  for (const key of Object.keys(m)) {
    if (!SERVICE_KEYS.includes(key)) {
      throw new OptionError(`${at}: unknown key '${key}'; valid keys: ${SERVICE_KEYS.join(", ")}`);
    }
  }
  const host = m.host;
  if (typeof host !== "string" || !(isIP(host) !== 0 || HOSTNAME.test(host))) {
    throw new OptionError(
      `${at}.host: expected a host name or an IP address (IPv6 without brackets), got ${show(host)}`,
    );
  }
  const type = m.type ?? "stun";
  if (!SERVICE_TYPES.includes(type as ServiceType)) {
    throw new OptionError(
      `${at}.type: expected one of ${SERVICE_TYPES.join(", ")}, got ${show(type)}`,
    );
  }
  const t = type as ServiceType;
  const port = m.port ?? (tls(t) ? 5349 : 3478);
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OptionError(`${at}.port: expected a port number 1..65535, got ${show(port)}`);
  }
  const transport = m.transport ?? (tls(t) ? "tcp" : "udp");
  if (transport !== "udp" && transport !== "tcp") {
    throw new OptionError(`${at}.transport: expected udp or tcp, got ${show(transport)}`);
  }
  const restricted = m.restricted ?? t.startsWith("turn");
  if (typeof restricted !== "boolean") {
    throw new OptionError(`${at}.restricted: expected true or false, got ${show(restricted)}`);
  }
  return { host, port, type: t, transport, restricted };
}

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

export const stunDiscoOptions = {
  services: opt.custom<Service[]>(
    "a list of services, each a map with host, port, type, transport, restricted",
    [],
    "The STUN/TURN services offered to clients (none by default: an empty list)",
    (v) => {
      if (!Array.isArray(v)) throw new OptionError("expected a list of services");
      return v.map(parseService);
    },
  ),
  secret: opt.string(
    "",
    "The secret shared with the TURN servers for temporary credentials (TURN REST API); needed by restricted services",
  ),
  credentials_lifetime: opt.seconds(43200, "How long temporary credentials are valid", {
    min: 1,
    max: 30 * 86400,
  }),
  offer_local_services: opt.boolean(
    true,
    "Announce local STUN/TURN listeners; no effect: Parley has no built-in STUN/TURN server",
  ),
  access: opt.access(
    "local",
    "Who may discover services and get credentials: an access rule (local, the default: this server's accounts)",
  ),
};
