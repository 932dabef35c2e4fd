/**
 * The gateway's errors, one class per kind of answer: every interface maps them to its own
 * responses (REST to status codes in src/api/errors.ts, MQTT to an error message), so a domain
 * rule is enforced once, here, and reads the same on every interface. The message is meant for the
 * person who asked.
 */

/** The request cannot be done as asked: a name, a limit, a rule or an argument that is not allowed (REST 400). */
export class InvalidRequestError extends Error {}
/** A device name that is malformed or taken. */
export class DeviceNameError extends InvalidRequestError {}
/** Limits that cannot be used together, or that the node refused. */
export class LimitError extends InvalidRequestError {}
/** A rule that cannot be stored. */
export class RuleError extends InvalidRequestError {}
/** A command's arguments outside the protocol's ranges; nothing was sent. */
export class CommandArgumentError extends InvalidRequestError {}

/** Refused: by an interlock, by the node, or by a rule of the gateway such as "an interlocked device is not removed" (REST 409). */
export class RefusedError extends Error {}
/** The device is not in a state to do it: offline, no relay, no known address (REST 409). */
export class UnavailableError extends Error {}
/** The node or plug did not answer in time (REST 504). */
export class CommandTimeoutError extends Error {}
/** The command could not be put on the bus (REST 503). */
export class BusUnavailableError extends Error {}
/** The gateway lacks what the request needs, e.g. no firmware bundle has been built yet (REST 503). */
export class NotConfiguredError extends Error {}
