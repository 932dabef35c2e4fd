/** A part of the gateway with a lifecycle: its constructor only stores dependencies; start() may fail without taking the daemon down. */
export interface Feature {
  start(): void | Promise<void>;
  stop(): void | Promise<void>;
}
