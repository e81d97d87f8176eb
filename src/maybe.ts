/**
 * A value now, or a promise of it later. The delivery path returns these so that the common
 * case — nothing to wait for — stays synchronous (no microtask, no pause of the sender's
 * input), while a step that must wait (a storage read, an IQ round-trip) can.
 */
export type MaybePromise<T> = T | Promise<T>;

export function isPromise<T>(value: MaybePromise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}

/** `fn(value)` now if `value` is here, else once it is. */
export function then<T, R>(value: MaybePromise<T>, fn: (v: T) => MaybePromise<R>): MaybePromise<R> {
  return isPromise(value) ? value.then(fn) : fn(value);
}
