import type { RequestHandlerConfig } from "../config/config.js";

/** Where a request goes: its handler's entry, and the path below the prefix. */
export interface Match {
  route: RequestHandlerConfig;
  path: string;
  segments: string[];
}

/**
 * The longest `request_handlers` prefix that covers `pathname` (already normalised by the URL
 * parser, so dot segments are gone: `/upload/../etc` is `/etc` and matches no `/upload`). A
 * prefix covers itself and what lies below it after a "/", never `/uploadx`. Returns null when
 * nothing matches, "bad" when a decoded segment could step outside the prefix.
 */
export function matchRoute(
  routes: readonly RequestHandlerConfig[],
  pathname: string,
): Match | null | "bad" {
  let best: RequestHandlerConfig | null = null;
  for (const r of routes) {
    const covers =
      r.path === "/" ||
      pathname === r.path ||
      (pathname.startsWith(r.path) && pathname[r.path.length] === "/");
    if (covers && (!best || r.path.length > best.path.length)) best = r;
  }
  if (!best) return null;
  const path = best.path === "/" ? pathname : pathname.slice(best.path.length);
  const segments: string[] = [];
  for (const raw of path.split("/")) {
    if (raw === "") continue;
    let s: string;
    try {
      s = decodeURIComponent(raw);
    } catch {
      return "bad";
    }
    // An encoded dot segment or separator would undo the URL parser's normalisation.
    if (s === "." || s === ".." || /[/\\\0]/.test(s)) return "bad";
    segments.push(s);
  }
  return { route: best, path, segments };
}
