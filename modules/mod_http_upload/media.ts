// Media types and file names as the upload service checks and serves them.

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
/** RFC 9110 §8.3.1: type "/" subtype *( OWS ";" OWS parameter ). */
const MEDIA_TYPE = new RegExp(
  `^(${TOKEN})/(${TOKEN})((?:\\s*;\\s*${TOKEN}=(?:${TOKEN}|"[^"\\\\\\r\\n]*"))*)\\s*$`,
);

export const OCTET_STREAM = "application/octet-stream";

/**
 * A content type as given by a client, normalized (the type and subtype in lower case, RFC 9110
 * §8.3.1: they are case-insensitive), or undefined when it is not one.
 */
export function parseMediaType(value: string): string | undefined {
  if (value.length > 255) return undefined;
  const m = MEDIA_TYPE.exec(value.trim());
  if (!m) return undefined;
  return `${m[1]!.toLowerCase()}/${m[2]!.toLowerCase()}${m[3]!.trim() ? m[3] : ""}`;
}

/** The type and subtype alone ("text/plain" of "text/plain; charset=utf-8"). */
export function essence(mediaType: string): string {
  return mediaType.split(";")[0]!.trim().toLowerCase();
}

/**
 * Whether a browser may show the file in the page rather than offer to save it: pictures,
 * sound, video and plain text. Anything that can carry script (HTML, SVG, PDF) is an
 * attachment (XEP-0363 §9.1: keep user content from running in the service's origin).
 */
export function inline(mediaType: string): boolean {
  const e = essence(mediaType);
  if (e === "image/svg+xml") return false;
  return /^(image|audio|video)\//.test(e) || e === "text/plain";
}

/** RFC 6266 §4: a plain-ASCII filename for old agents and the exact one as filename*. */
export function contentDisposition(mediaType: string, name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%]/g, "_");
  const exact = encodeURIComponent(name).replace(
    /['()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${inline(mediaType) ? "inline" : "attachment"}; filename="${fallback}"; filename*=UTF-8''${exact}`;
}

/**
 * Why a file name cannot be a slot's, or undefined when it can: the name becomes the last
 * segment of the URL and the name a downloader saves, so it must be one plain name.
 */
export function badFilename(name: string): string | undefined {
  if (name.length === 0) return "the file name is empty";
  if (Buffer.byteLength(name, "utf8") > 255) return "the file name is longer than 255 bytes";
  if (/[/\\]/.test(name)) return "the file name contains a path separator";
  // C0 and C1 controls and DEL: invisible in a link, dangerous in a header or a terminal; the
  // bidirectional overrides make "gpj.exe" read as "exe.jpg".
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(name)) {
    return "the file name contains control characters";
  }
  if (name === "." || name === "..") return "the file name is not a name";
  return undefined;
}
