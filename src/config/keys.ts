/**
 * Which ejabberd options Parley uses, warns about, or refuses, at the top level and inside each
 * listener. Kept as data apart from the validator so that the policy (and the reason given for
 * each refusal) can be read and changed in one place; ejabberd-compat.md mirrors these lists.
 *
 * Every option falls in one of four groups:
 *   - supported: validated and used;
 *   - ignored:   ejabberd options whose absence changes policy or cosmetics only; accepted, and
 *                reported in `ServerConfig.warnings`;
 *   - refused:   ejabberd options whose silent omission would change security or meaning;
 *                ConfigError "not supported yet";
 *   - unknown:   ConfigError, with the nearest valid key when one is close.
 */

/** The options only a PostgreSQL connection uses (sql_type: pgsql). */
export const PGSQL_KEYS = [
  "sql_server",
  "sql_port",
  "sql_username",
  "sql_password",
  "sql_pool_size",
  "sql_ssl",
  "sql_ssl_verify",
  "sql_ssl_cafile",
  "sql_ssl_certfile",
  "sql_connect_timeout",
  "sql_query_timeout",
] as const;

/** ejabberd's options of its Redis connection, used only in a cluster (sm_db_type: redis). */
export const REDIS_KEYS = [
  "redis_server",
  "redis_port",
  "redis_password",
  "redis_db",
  "redis_connect_timeout",
  "redis_pool_size",
  "redis_queue_type",
] as const;

/** The options that only a cluster uses: the Redis connection and Parley's node options. */
export const CLUSTER_ONLY_KEYS = [...REDIS_KEYS, "node_name", "cluster_lease"] as const;

/** Top-level keys Parley uses, in the order they are listed to humans. */
export const TOP_LEVEL_KEYS = [
  "hosts",
  "loglevel",
  "log_format",
  "certfiles",
  "data_dir",
  "default_db",
  "sql_type",
  "sql_database",
  "sqlite_synchronous",
  ...PGSQL_KEYS,
  "sm_db_type",
  "router_db_type",
  ...CLUSTER_ONLY_KEYS,
  "auth_method",
  "auth_password_format",
  "auth_scram_hash",
  "max_user_sessions",
  "control_socket",
  "max_fsm_queue",
  "queue_warning_bytes",
  "backpressure_queue_bytes",
  "event_loop_lag_warning",
  "metrics",
  "websocket_origin",
  "websocket_ping_interval",
  "websocket_timeout",
  "disable_sasl_mechanisms",
  "acl",
  "access_rules",
  "shaper",
  "shaper_rules",
  "api_permissions",
  "s2s_use_starttls",
  "s2s_cafile",
  "s2s_timeout",
  "s2s_access",
  "s2s_dns_timeout",
  "s2s_dns_retries",
  "s2s_max_retry_delay",
  "outgoing_s2s_port",
  "outgoing_s2s_timeout",
  "listen",
  "modules",
  "define_macro",
  "c2s_ciphers",
  "c2s_protocol_options",
  "c2s_dhfile",
  "s2s_ciphers",
  "s2s_protocol_options",
  "s2s_dhfile",
] as const;

/** A listener's TLS tuning, as ejabberd's listeners take it (tls-options.ts). */
export const TLS_TUNING_KEYS = ["ciphers", "protocol_options", "dhfile"] as const;

/** Keys of a `listen` entry that Parley uses. */
export const LISTENER_KEYS = [
  "port",
  "ip",
  "module",
  "tls",
  "starttls",
  "starttls_required",
  "max_stanza_size",
  "unauthenticated_timeout",
  "access",
  "shaper",
  ...TLS_TUNING_KEYS,
  "max_connections_per_ip",
  "max_connection_rate_per_ip",
] as const;

/** Top-level ejabberd options accepted with a warning: policy, tuning, or features not built. */
export const IGNORED_TOP_LEVEL_KEYS = [
  "access",
  "acme",
  "ca_file",
  "language",
  "new_sql_schema",
  "update_sql_schema",
  "hide_sensitive_log_data",
  "log_modules_fully",
  "cache_size",
  "cache_life_time",
  "cache_missed",
  "use_cache",
  "auth_use_cache",
  "auth_stored_password_types",
  "sql_keepalive_interval",
  "sql_start_interval",
  "sql_queue_type",
  "sql_prepared_statements",
  "sql_odbc_driver",
  "sql_flags",
  "anonymous_protocol",
  "allow_multiple_connections",
  "registration_timeout",
  "resource_conflict",
  "fqdn",
  "net_ticktime",
  "queue_type",
  "queue_dir",
  "sm_use_cache",
  "router_use_cache",
  "trusted_proxies",
  "domain_balancing",
  "negotiation_timeout",
  "allow_contrib_modules",
  "install_contrib_modules",
  "validate_stream",
  "version",
  "c2s_tls_compression",
  "disable_sasl_scram_downgrade_protection",
] as const;

/** Prefixes of top-level ejabberd option families accepted with a warning. */
export const IGNORED_TOP_LEVEL_PREFIXES = [
  "s2s_",
  "outgoing_s2s_",
  "ldap_",
  "oauth_",
  "captcha_",
  "pam_",
  "extauth_",
  "jwt_",
  "ext_api_",
  "log_rotate_",
  "log_burst_limit_",
  "auth_cache_",
  "sm_cache_",
  "router_cache_",
  "oom_",
] as const;

/**
 * Top-level ejabberd options refused ("not supported yet"), with why ignoring them is no option
 * and what to do instead.
 */
export const REFUSED_TOP_LEVEL_KEYS: Readonly<Record<string, string>> = {
  include_config_file: "ignoring it would drop the options it includes; copy them into this file",
  host_config:
    "ignoring per-host options would apply other options than you meant; set them globally",
  append_host_config:
    "ignoring per-host options would apply other options than you meant; set them globally",
  c2s_cafile:
    "ignoring it would accept client certificates you meant to check; remove it (Parley does not ask clients for certificates)",
};

/** Listener options of ejabberd accepted with a warning. */
export const IGNORED_LISTENER_KEYS = [
  "backlog",
  "send_timeout",
  "accept_interval",
  "zlib",
  "tls_compression",
  "max_fsm_queue",
  "supervisor",
] as const;

/** Listener options of ejabberd refused ("not supported yet"), with the reason. */
export const REFUSED_LISTENER_KEYS: Readonly<Record<string, string>> = {
  certfile: "list the file in the top-level 'certfiles' instead",
  cafile:
    "ignoring it would trust other certificate authorities than you asked for; remove it (the system's are used, and s2s_cafile for other servers)",
  tls_verify: "ignoring it would accept clients you meant to refuse; remove it",
  use_proxy_protocol: "ignoring it would garble every connection; remove it",
};

/** Keys of an `ejabberd_http` listener that Parley uses (the limits are Parley's own names). */
export const HTTP_LISTENER_KEYS = [
  "port",
  "ip",
  "module",
  "tls",
  "request_handlers",
  "max_header_size",
  "max_body_size",
  "headers_timeout",
  "request_timeout",
  "max_connections_per_ip",
  "metrics_allow_remote",
  "max_stanza_size",
  "unauthenticated_timeout",
  ...TLS_TUNING_KEYS,
] as const;

/** Options of ejabberd's ejabberd_http accepted with a warning. */
export const IGNORED_HTTP_LISTENER_KEYS = [
  ...IGNORED_LISTENER_KEYS,
  "access",
  "shaper",
  "default_host",
  "tag",
] as const;

/** Options of ejabberd's ejabberd_http refused, with the reason. */
export const REFUSED_HTTP_LISTENER_KEYS: Readonly<Record<string, string>> = {
  ...REFUSED_LISTENER_KEYS,
  custom_headers:
    "ignoring it would drop headers you rely on (security or CORS headers); set them in a reverse proxy",
  starttls: "HTTP has no STARTTLS; use tls: true for HTTPS",
  starttls_required: "HTTP has no STARTTLS; use tls: true for HTTPS",
};

/** Keys of an `ejabberd_service` listener (XEP-0114 components) that Parley uses. */
export const COMPONENT_LISTENER_KEYS = [
  "port",
  "ip",
  "module",
  "tls",
  "hosts",
  "password",
  "check_from",
  "global_routes",
  "max_stanza_size",
  "unauthenticated_timeout",
  ...TLS_TUNING_KEYS,
] as const;

/** Options of ejabberd's ejabberd_service accepted with a warning. */
export const IGNORED_COMPONENT_LISTENER_KEYS = [
  ...IGNORED_LISTENER_KEYS,
  "access",
  "shaper",
  "shaper_rule",
] as const;

const NO_STARTTLS = "XEP-0114 streams have no STARTTLS; use tls: true for TLS from the first byte";

/** Options of ejabberd's ejabberd_service refused, with the reason. */
export const REFUSED_COMPONENT_LISTENER_KEYS: Readonly<Record<string, string>> = {
  ...REFUSED_LISTENER_KEYS,
  starttls: NO_STARTTLS,
  starttls_required: NO_STARTTLS,
};

/** Names accepted for the external component listener module. */
export const COMPONENT_MODULE_NAMES = ["ejabberd_service"] as const;

/** Names accepted for the HTTP listener module. */
export const HTTP_MODULE_NAMES = ["ejabberd_http"] as const;

/** Names accepted for the client-to-server listener module. */
export const C2S_MODULE_NAMES = ["ejabberd_c2s", "c2s", "parley_c2s"] as const;

/** Names accepted for the incoming server-to-server listener module. */
export const S2S_MODULE_NAMES = ["ejabberd_s2s_in"] as const;

/**
 * ejabberd listener modules whose feature Parley lacks, with what they serve: such a listener
 * is not started, with a warning naming what is missing (nothing else changes meaning), and its
 * other keys are not checked.
 */
export const LACKING_LISTENER_MODULES: Readonly<Record<string, string>> = {
  ejabberd_stun:
    "STUN/TURN server (RFC 5389, RFC 8656) for audio and video calls; run one such as coturn and announce it with mod_stun_disco",
  mod_mqtt: "MQTT broker",
  ejabberd_sip: "SIP server (RFC 3261)",
};

/** ejabberd listener modules Parley refuses, with where Parley has the feature instead. */
export const UNSUPPORTED_LISTENER_MODULES: Readonly<Record<string, string>> = {
  mod_proxy65:
    "Parley's SOCKS5 bytestreams proxy (XEP-0065) is the module mod_proxy65 under 'modules:', which opens its own listener (its port and ip are module options)",
};
