/**
 * What each worker of `parley --workers` is called and where its admin socket is. A slot is a
 * worker's place (0 … N-1); its generation counts the workers that slot has had, so that an old
 * worker and the one replacing it, alive together during `restart_workers`, never share a node
 * name or a socket.
 */
import { nodeNameProblem } from "../config/cluster.js";

/**
 * Linux's sockaddr_un holds 108 bytes of path, the last one its terminating NUL: a longer path
 * cannot be bound at all (Node's error would only say EINVAL or ENAMETOOLONG).
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * `<base>.<slot>.<generation>`: the worker's node_name in the cluster and in its log lines.
 * Throws when the suffix makes it longer than a node name may be.
 */
export function workerNodeName(base: string, slot: number, generation: number): string {
  const name = `${base}.${slot}.${generation}`;
  const problem = nodeNameProblem(name);
  if (problem !== undefined) {
    throw new Error(
      `worker ${slot} would be named ${name}, which cannot name a node: ${problem}; set a ` +
        `shorter node_name (or --node-name)`,
    );
  }
  return name;
}

/** The primary's own log lines say `node: <base>/primary` (a name no worker can have). */
export function primaryNodeName(base: string): string {
  return `${base}/primary`;
}

/**
 * `<control_socket>.<slot>.<generation>`: the worker's own admin socket, which the primary
 * forwards parleyctl's commands to. Throws, saying what to change, when the path is too long.
 */
export function workerControlSocket(primary: string, slot: number, generation: number): string {
  const path = `${primary}.${slot}.${generation}`;
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new Error(
      `the control socket of worker ${slot} would be ${path}, ${bytes} bytes long; a unix ` +
        `socket path may have at most ${MAX_SOCKET_PATH_BYTES}: set a shorter control_socket ` +
        `(or data_dir) in the config`,
    );
  }
  return path;
}
