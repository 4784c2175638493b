/**
 * The few EventEmitter methods Socket.IO and user code call on a connection,
 * with listeners kept in one lazily created object instead of Node's
 * dictionary-mode `_events` (≈250 bytes per emitter). An idle connection
 * that nobody listens to carries one empty field.
 */
export type Listener = (...args: any[]) => void;

const ONCE_ORIGINALS = new WeakMap<Listener, Listener>();

export class SmallEmitter {
  private handlers: Record<string, Listener[]> | undefined = undefined;

  on(event: string, fn: Listener): this {
    const h = (this.handlers ??= {});
    const list = h[event];
    // Copy on write keeps each list at its exact size: a pushed-to empty
    // array reserves room for 17 entries, per connection.
    h[event] = list ? [...list, fn] : [fn];
    return this;
  }
  addListener(event: string, fn: Listener): this {
    return this.on(event, fn);
  }
  once(event: string, fn: Listener): this {
    const wrapped: Listener = (...args) => {
      this.off(event, wrapped);
      fn.apply(this, args);
    };
    // Not a property on the wrapper: a function given a property goes to
    // dictionary mode (~250 bytes), per connection.
    ONCE_ORIGINALS.set(wrapped, fn);
    return this.on(event, wrapped);
  }
  off(event: string, fn: Listener): this {
    const list = this.handlers?.[event];
    if (!list) return this;
    const i = list.findIndex((l) => l === fn || ONCE_ORIGINALS.get(l) === fn);
    if (i < 0) return this;
    if (list.length > 1) this.handlers![event] = list.filter((_, j) => j !== i);
    else this.removeAllListeners(event);
    return this;
  }
  removeListener(event: string, fn: Listener): this {
    return this.off(event, fn);
  }
  removeAllListeners(event?: string): this {
    if (event === undefined) this.handlers = undefined;
    else if (this.handlers) {
      delete this.handlers[event];
      // The last listener gone, so is the object (an idle connection keeps none).
      if (Object.keys(this.handlers).length === 0) this.handlers = undefined;
    }
    return this;
  }
  listenerCount(event: string): number {
    return this.handlers?.[event]?.length ?? 0;
  }
  listeners(event: string): Listener[] {
    return [...(this.handlers?.[event] ?? [])];
  }
  emit(event: string, ...args: unknown[]): boolean {
    const list = this.handlers?.[event];
    // Unlike Node's emitter, an unheard "error" does not throw: the connection closes anyway.
    if (!list || list.length === 0) return false;
    for (const fn of list) fn.apply(this, args);
    return true;
  }
}
