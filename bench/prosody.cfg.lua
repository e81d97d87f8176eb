-- Prosody config for bench/compare (issue 5): the features Parley enables in bench/parley.yml,
-- SQLite storage, STARTTLS required, no mod_limits, loopback only. Placeholders @...@ are filled
-- in by bench/lib/servers.ts for each run; lines ending in "-- bench:mam" are kept for the MAM
-- scenarios only, "-- bench:pep" for the PEP one, "-- bench:ws" for the websocket one,
-- "-- bench:upload" for the upload one, "-- bench:bosh" for the bosh one, "-- bench:http" for any
-- of them; "-- bench:https" for the bosh-tls one, whose HTTP port is HTTPS, "-- bench:httpplain"
-- for the others; "-- bench:s2s" for the s2s scenario (and "-- bench:no-s2s" for the others).

pidfile = "@DATA_DIR@/prosody.pid"
data_path = "@DATA_DIR@"
log = { warn = "@DATA_DIR@/prosody.log" }

interfaces = { "@ADDRESS@" }
local_interfaces = { "@ADDRESS@" }
c2s_ports = { @C2S_PORT@ }
c2s_direct_tls_ports = { }
s2s_ports = { } -- bench:no-s2s
-- The s2s scenario: two Prosodies, each on its own address in a network namespace of its own
-- (bench/lib/s2s.ts), linked by certificates from the run's CA (s2s_secure_auth below).
s2s_ports = { 5269 } -- bench:s2s
-- Listen backlog as Parley's (1024; server_epoll's default is 128), and TCP_NODELAY as Parley and
-- ejabberd set it (server_epoll leaves Nagle on by default, which with delayed ACKs adds ~40 ms
-- to round trips such as the steps of a login).
network_settings = { tcp_backlog = 1024; nagle = false; }

modules_enabled = {
	"roster"; "saslauth"; "tls"; "disco"; "carbons"; "private"; "blocklist"; "vcard";
	"version"; "uptime"; "time"; "ping"; "lastactivity"; "smacks";
	-- In-band registration, used only to create the benchmark's users (as on Parley and ejabberd).
	"register";
	-- The MAM scenarios (mam, mam-query) run on a server of their own with archiving on.
	"mam"; -- bench:mam
	-- The PEP scenario (pep) runs on a server of its own with PEP on, as Prosody's example
	-- config has it (listed there in modules_enabled; mod_pep learns clients' caps itself).
	"pep"; -- bench:pep
	-- The websocket scenario runs on a server of its own with XMPP over WebSocket (RFC 7395).
	"websocket"; -- bench:ws
	-- The bosh scenario runs on a server of its own with XMPP over BOSH (XEP-0206) at /http-bind.
	"bosh"; -- bench:bosh
	-- The abuse scenario (bench/lib/abuse.ts ABUSE_LIMITS): mod_limits shapes every c2s connection.
	"limits"; -- bench:abuse
}
-- No s2s but in the s2s scenario; offline storage only when Parley has it (filled in by
-- bench/lib/servers.ts); no mod_limits (not loaded).
modules_disabled = { @DISABLED@ }
s2s_require_encryption = true -- bench:s2s
s2s_secure_auth = true -- bench:s2s

allow_registration = true
registration_allowlist = { "127.0.0.1" }
-- The same iteration count as Parley's and ejabberd's SCRAM keys (Prosody's default is 10000).
default_iteration_count = 4096

c2s_require_encryption = true
-- WebSocket, BOSH and upload: plain ws:// and http:// on a loopback HTTP port (no TLS, as Parley's
-- and ejabberd's in the bench); WebSocket and BOSH c2s_require_encryption would refuse unless told to count it as secure, as
-- Prosody's documentation says for a connection that a proxy terminates TLS of.
http_ports = { @HTTP_PORT@ } -- bench:httpplain
https_ports = { } -- bench:httpplain
http_interfaces = { "127.0.0.1" } -- bench:http
-- The bosh-tls scenario: the same port HTTPS, with the run's certificate.
http_ports = { } -- bench:https
https_ports = { @HTTP_PORT@ } -- bench:https
https_interfaces = { "127.0.0.1" } -- bench:https
https_ssl = { certificate = "@CERTFILE@"; key = "@KEYFILE@"; } -- bench:https
consider_websocket_secure = true -- bench:ws
consider_bosh_secure = true -- bench:bosh
c2s_stanza_size_limit = 262144
-- The abuse scenario: the same rate as ejabberd's stock shaper and Parley's (3000 B/s; the burst
-- in seconds of that rate, 20000 bytes ≈ 7 s, which server_epoll's own rate limit ignores), and
-- 30 s to authenticate (the default is 300).
limits = { c2s = { rate = "3kb/s"; burst = "7s"; }; } -- bench:abuse
c2s_timeout = 30 -- bench:abuse
authentication = "internal_hashed"
storage = "sql" -- bench:no-mamnative
-- --mam-store native: the archive in Prosody's default (internal, files), the rest in SQLite.
default_storage = "sql" -- bench:mamnative
storage = { archive = "internal" } -- bench:mamnative
sql = { driver = "SQLite3", database = "@DATA_DIR@/prosody.sqlite" }

-- Archiving as Prosody's example config has it once "mam" is enabled: every message archived
-- for both ends (default_archive_policy, stated), in the storage above (SQLite; with --mam-store
-- native its internal storage, which keeps at most 10 000 messages per archive), expired after a
-- week (the example's value; a run lasts minutes, so nothing expires, but it also makes Prosody
-- count the total of each query, as Parley, up to 10 000, and ejabberd do).
default_archive_policy = true -- bench:mam
archive_expires_after = "1w" -- bench:mam

smacks_hibernation_time = 300
smacks_max_unacked_stanzas = 5000
version_ignore_os = true

ssl = { key = "@KEYFILE@"; certificate = "@CERTFILE@"; } -- bench:no-s2s
ssl = { key = "@KEYFILE@"; certificate = "@CERTFILE@"; cafile = "@CAFILE@"; } -- bench:s2s

VirtualHost "@HOST@"

-- Group chat for the room fan-out scenario (muc), as Parley's mod_muc and ejabberd's: 20 messages
-- of history, temporary rooms (nothing stored per message), unmoderated (in a moderated Prosody
-- room newcomers are visitors, without voice). Prosody 0.12's muc has no occupant limit and no
-- rate limit (those are community modules, not loaded).
Component "conference.@HOST@" "muc"
	muc_room_default_history_length = 20
	max_history_messages = 20
	muc_room_default_persistent = false
	muc_room_default_moderated = false
	muc_room_default_public = true

-- The upload scenario (XEP-0363): Prosody 0.12's http_file_share, files in the data directory,
-- the same 100 MiB limit per file as Parley's and ejabberd's (its default is 10 MiB).
Component "upload.@HOST@" "http_file_share" -- bench:upload
	http_file_share_size_limit = 104857600 -- bench:upload
