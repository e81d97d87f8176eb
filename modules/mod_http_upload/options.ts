// mod_http_upload's options, named and meaning as in ejabberd's mod_http_upload, parsed here so
// that index.ts reads as what the module handles.
import { opt, OptionError } from "../../src/moduleapi.js";

/** An HTTP header name (RFC 9110 §5.1: a token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const uploadOptions = {
  host: opt.string("upload.@HOST@", "The upload service's domain; @HOST@ is the virtual host"),
  name: opt.string("HTTP File Upload", "The service's name in service discovery"),
  access: opt.access(
    "local",
    "Who may request slots: an access rule (local, the default, allows the accounts of this server's hosts)",
  ),
  max_size: opt.integer(104857600, "Largest file accepted, in bytes, or infinity", {
    min: 1,
    infinity: true,
  }),
  docroot: opt.string(
    "",
    "Where uploaded files are stored; @HOST@ is the virtual host; default <data_dir>/upload",
  ),
  put_url: opt.string(
    "https://@HOST@:5443/upload",
    "The URL prefix clients PUT to (behind a reverse proxy: the public one)",
  ),
  get_url: opt.string("", "The URL prefix files are fetched from; default: put_url"),
  file_mode: mode('Permission bits of stored files, octal ("0640"); default: 0644 less the umask'),
  dir_mode: mode(
    'Permission bits of created directories, octal ("2750"); default: 0755 less the umask',
  ),
  secret_length: opt.integer(40, "Characters of randomness in each slot's URL", {
    min: 8,
    max: 128,
  }),
  jid_in_url: opt.oneOf(
    ["sha1"] as const,
    "sha1",
    "How the uploader appears in the URL: sha1 (a hash of the bare JID); node is not supported",
  ),
  thumbnail: opt.custom<false>(
    "false",
    false,
    "Thumbnails are not made (only false is accepted)",
    (v) => {
      if (v !== false)
        throw new OptionError("thumbnails are not supported; only false is accepted");
      return false;
    },
  ),
  custom_headers: opt.custom<Record<string, string>>(
    "a map of HTTP header names to values",
    {},
    "Headers added to every HTTP response of the upload service",
    parseHeaders,
  ),
  rm_on_unregister: opt.boolean(true, "Delete a removed account's files"),
};

function mode(doc: string) {
  return opt.custom<number | undefined>('an octal mode such as "0644"', undefined, doc, (v) => {
    // ejabberd writes the mode in quotes ("0644"); YAML 1.2 reads an unquoted 0644 as the
    // number 644, whose digits are still the octal mode meant.
    const text = typeof v === "number" && Number.isInteger(v) ? String(v) : v;
    if (typeof text !== "string" || !/^[0-7]{3,4}$/.test(text)) {
      throw new OptionError(`expected an octal mode such as "0644", got ${JSON.stringify(v)}`);
    }
    return parseInt(text, 8);
  });
}

function parseHeaders(v: unknown): Record<string, string> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new OptionError("expected a map of header names to values");
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
    if (!HEADER_NAME.test(name)) throw new OptionError(`'${name}' is not an HTTP header name`);
    const text = typeof value === "number" ? String(value) : value;
    // A line break in a value would start another header (response splitting).
    if (typeof text !== "string" || /[\r\n\0]/.test(text)) {
      throw new OptionError(`header '${name}' needs a one-line text value`);
    }
    out[name] = text;
  }
  return out;
}
