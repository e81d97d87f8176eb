/**
 * The cluster's Redis keys, in one place. A cluster owns its Redis database (`redis_db`); two
 * clusters share a Redis server through different databases, as ejabberd's do.
 */
export const keys = {
  /** Hash: node name → NodeInfo (JSON), every node that started and was not reaped. */
  nodes: "parley:nodes",
  /** String with a TTL: present while the node is alive (its lease, renewed by the node). */
  lease: (node: string) => `parley:lease:${node}`,
  /** Lock taken by the node that cleans up after a dead one, so only one does. */
  reap: (node: string) => `parley:reap:${node}`,
  /** Hash: full JID → SessionEntry (JSON), every session bound anywhere in the cluster. */
  sessions: "parley:sessions",
  /** Set: the full JIDs a node registered, so its sessions are found when it dies. */
  nodeSessions: (node: string) => `parley:node-sessions:${node}`,
  /** Pub/sub channel: every change of `sessions`, for the nodes' mirrors. */
  sessionChanges: "parley:sessions",
  /** The cluster's random secret, from which dialback keys and fake salts are derived. */
  secret: "parley:secret",
  /** Pub/sub channel: modules' messages to their peers on other nodes (ctx.peers). */
  peers: "parley:peers",
  /** Stream: what other nodes hand to this node (stanzas, replies, commands). */
  inbox: (node: string) => `parley:inbox:${node}`,
  /** The consumer group of every inbox (one consumer: the node itself). */
  inboxGroup: "parley",
  /** Hash: bare JID of a room (an address of a partitioned service) → the node serving it. */
  rooms: "parley:rooms",
  /** Set: the rooms a node serves, so they are found when it dies or leaves. */
  nodeRooms: (node: string) => `parley:node-rooms:${node}`,
  /** Pub/sub channel: a node stopped serving a room (JSON {r, n, b}), for the nodes' caches. */
  roomChanges: "parley:rooms",
  /** Hash per partitioned domain: local part → ListedItem (JSON), the domain's disco#items. */
  roomList: (domain: string) => `parley:room-list:${domain}`,
  /** List: the messages written to an XEP-0198 session and not yet acknowledged by its client. */
  unacked: (node: string, sid: string) => `parley:unacked:${node}:${sid}`,
} as const;
