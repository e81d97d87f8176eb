import { createClient } from "redis";
import type { RedisConfig } from "../config/types.js";
import type { Logger } from "../log.js";

/** A connection to the cluster's Redis (node-redis). */
export type RedisClient = ReturnType<typeof createClient>;

/** How long between reconnection attempts once Redis went away (ms, growing to this). */
const MAX_RECONNECT_DELAY_MS = 2_000;

/**
 * Opens a connection. The first connection failing is an error an admin can act on (which
 * server, which options); later losses are logged and retried by the client, commands waiting
 * in its offline queue meanwhile.
 */
export async function connectRedis(
  config: RedisConfig,
  log: Logger,
  role: string,
): Promise<RedisClient> {
  const client = createClient({
    socket: {
      ...(config.socketPath !== undefined
        ? { path: config.socketPath }
        : { host: config.host, port: config.port }),
      connectTimeout: config.connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
    },
    ...(config.password !== undefined ? { password: config.password } : {}),
    database: config.db,
  });
  let connected = false;
  let lastError = "";
  client.on("error", (err: Error) => {
    // Logged once per distinct failure, not once per retry.
    if (connected && err.message !== lastError) log.warn({ err, role }, "Redis connection lost");
    lastError = err.message;
  });
  client.on("ready", () => {
    if (connected && lastError) log.info({ role }, "Redis connection back");
    lastError = "";
  });
  try {
    await client.connect();
  } catch (err) {
    client.destroy();
    throw new Error(
      `cannot reach Redis at ${config.socketPath ?? `${config.host}:${config.port}`} (redis_server, redis_port, redis_db` +
        `${config.password !== undefined ? ", redis_password" : ""}): ${(err as Error).message}`,
    );
  }
  connected = true;
  return client;
}

/** Closes a connection, waiting for replies already on their way, never throwing. */
export async function closeRedis(client: RedisClient): Promise<void> {
  try {
    if (client.isOpen) await client.close();
  } catch {
    client.destroy();
  }
}
