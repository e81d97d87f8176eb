import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

/**
 * The root logger. Everything else logs through children of it (`log.child({ sid, jid })`,
 * `log.child({ module })`), so each line says whose it is.
 */
export function createLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      // Belt and braces: SASL payloads and passwords must never reach a log line even if some
      // caller passes one by mistake.
      redact: { paths: ["password", "*.password", "sasl", "*.sasl"], censor: "[redacted]" },
    },
    destination ?? pino.destination({ sync: false }),
  );
}
