import { pino, type Logger, type LevelWithSilent } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/** `json`: one JSON object a line, for collectors; `pretty`: pino-pretty's form, for a person. */
export type LogFormat = "json" | "pretty";

/** `log_format` in the config: `auto` picks by where the lines go. */
export type LogFormatSetting = LogFormat | "auto";

/**
 * The format of the log lines: pretty when they go to a terminal, where a person reads them;
 * JSON lines anywhere else (a file, journald, a pipe to a collector), unless the config forces
 * one.
 */
export function chooseLogFormat(
  setting: LogFormatSetting,
  out: { isTTY?: boolean | undefined },
): LogFormat {
  if (setting !== "auto") return setting;
  return out.isTTY === true ? "pretty" : "json";
}

/**
 * The root logger. Everything else logs through children of it (`log.child({ sid, jid })`,
 * `log.child({ module })`), so each line says whose it is, in either format: the pretty form
 * prints the same fields under the message.
 */
export function createLogger(
  level: LevelWithSilent,
  destination?: NodeJS.WritableStream,
  format: LogFormatSetting = "json",
): Logger {
  // A stream that is not a terminal has no isTTY at all.
  const out = (destination ?? process.stdout) as { isTTY?: boolean };
  const stream =
    chooseLogFormat(format, out) === "pretty"
      ? pretty({
          destination: destination ?? 1,
          colorize: out.isTTY === true,
          translateTime: "SYS:yyyy-mm-dd HH:MM:ss.l",
          // A person at a terminal reads as it happens; and the last lines before an exit stay.
          sync: true,
        })
      : (destination ?? pino.destination({ sync: false }));
  return pino(
    {
      level,
      base: { pid: process.pid },
      // Belt and braces: SASL payloads and passwords must never reach a log line even if some
      // caller passes one by mistake.
      redact: { paths: ["password", "*.password", "sasl", "*.sasl"], censor: "[redacted]" },
    },
    stream,
  );
}
