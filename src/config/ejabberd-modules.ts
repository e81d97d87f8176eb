/**
 * ejabberd's modules as Parley sees them, by name: those whose feature Parley lacks (skipped
 * with a warning that says what is missing, so an ejabberd.yml still loads), those Parley has
 * under another name (loaded under Parley's, with the same options), and those built into
 * Parley. A name in none of these, and no built-in module, stays an error with the nearest
 * name: a typo must not be mistaken for a feature to skip.
 *
 * Names are ejabberd's src/mod_*.erl (and a few of earlier versions); keep a name out of
 * LACKING once Parley has the module (a test checks that no name here is a built-in module).
 */

/** ejabberd modules whose feature Parley does not have, with what each does. */
export const LACKING_EJABBERD_MODULES: Readonly<Record<string, string>> = {
  mod_adhoc_api: "ejabberd's API commands run as ad-hoc commands, XEP-0050",
  mod_admin_extra: "extra admin commands for ejabberdctl and the API: rosters, vCards, sessions",
  mod_antispam: "spam filtering by lists of JIDs, domains and URLs and by real-time block lists",
  mod_block_strangers: "blocking messages and presence from users not in the roster",
  mod_conversejs: "serving the Converse.js web client",
  mod_delegation: "namespace delegation to components, XEP-0355",
  mod_echo: "echoing stanzas back, for testing",
  mod_http_api: "the HTTP admin API for ejabberd's commands",
  mod_http_fileserver: "serving static files over HTTP",
  mod_invites: "invitations to create an account or add a contact, XEP-0379 and XEP-0401",
  mod_irc: "a gateway to IRC",
  mod_jidprep: "JID preparation as a service, XEP-0328",
  mod_legacy_auth: "non-SASL authentication, XEP-0078",
  mod_matrix_gw: "a gateway to Matrix",
  mod_metrics: "sending server events to a metrics collector",
  mod_mix: "group chats over MIX, XEP-0369",
  mod_mix_pam: "the user's-server side of MIX, XEP-0405",
  mod_mqtt: "an MQTT broker",
  mod_mqtt_bridge: "bridging to other MQTT brokers",
  mod_muc_admin: "admin commands for chat rooms",
  mod_muc_log: "HTML logs of chat rooms",
  mod_muc_occupantid: "stable occupant identifiers in chat rooms, XEP-0421",
  mod_muc_rtbl: "banning users listed in a real-time block list from chat rooms",
  mod_multicast: "extended stanza addressing, XEP-0033",
  mod_pres_counter: "limiting how many presence subscriptions a user may send in a while",
  mod_privacy: "privacy lists, XEP-0016",
  mod_privilege: "privileged components acting for users, XEP-0356",
  mod_providers: "serving the XMPP Providers file",
  mod_pubsub_serverinfo: "publishing which servers this one federates with, XEP-0485",
  mod_push_keepalive: "keeping sessions of push clients, XEP-0357, alive longer",
  mod_register_web: "account registration through web pages",
  mod_s2s_bidi: "bidirectional server-to-server connections, XEP-0288",
  mod_scram_upgrade: "upgrading stored SCRAM hashes at login, XEP-0480",
  mod_service_log: "copying users' stanzas to a logging service",
  mod_shared_roster: "shared roster groups",
  mod_shared_roster_ldap: "shared roster groups from LDAP",
  mod_sic: "telling clients their IP address, XEP-0279",
  mod_sip: "a SIP registrar and proxy",
  mod_stats: "statistics gathering, XEP-0039",
};

/** ejabberd modules Parley has under another name: loaded as Parley's, with the same options. */
export const EJABBERD_MODULE_ALIASES: Readonly<Record<string, string>> = {
  mod_carboncopy: "mod_carbons",
  mod_http_bind: "mod_bosh",
};

/** ejabberd modules whose feature is built into Parley: nothing to load. */
export const BUILT_IN_EJABBERD_MODULES: Readonly<Record<string, string>> = {
  mod_avatar:
    "avatar conversion between vCard and PEP avatars, XEP-0398, is built into Parley's mod_vcard (with mod_pubsub); its image conversion options are not offered",
  mod_vcard_xupdate:
    "vCard avatar hashes in presence, XEP-0153 and XEP-0398, are built into Parley's mod_vcard",
  mod_host_meta:
    "host-meta, XEP-0156, is built into Parley: an ejabberd_http listener serves it where its request_handlers mount mod_host_meta, with the URLs of its own listeners",
};

/** Every ejabberd module name above, for guessing what a misspelt name meant. */
export const EJABBERD_MODULE_NAMES: readonly string[] = [
  ...Object.keys(LACKING_EJABBERD_MODULES),
  ...Object.keys(EJABBERD_MODULE_ALIASES),
  ...Object.keys(BUILT_IN_EJABBERD_MODULES),
];

/** ejabberd's own HTTP request handlers (not modules) whose feature Parley lacks. */
const LACKING_EJABBERD_HANDLERS: Readonly<Record<string, string>> = {
  ejabberd_web_admin: "the web admin interface",
  ejabberd_captcha: "CAPTCHA images for registration and rooms",
  ejabberd_acme: "ACME challenges, to get certificates from Let's Encrypt",
  ejabberd_xmlrpc: "the XML-RPC admin API",
  ejabberd_oauth: "OAuth tokens for the admin API",
};

/** What a request handler Parley lacks does (a module's or ejabberd's own), or undefined. */
export function lackingHandler(name: string): string | undefined {
  if (Object.hasOwn(LACKING_EJABBERD_HANDLERS, name)) return LACKING_EJABBERD_HANDLERS[name];
  if (Object.hasOwn(LACKING_EJABBERD_MODULES, name)) return LACKING_EJABBERD_MODULES[name];
  return undefined;
}
