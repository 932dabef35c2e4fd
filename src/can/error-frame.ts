/**
 * SocketCAN error frames (CAN_ERR_FLAG set): what the controller reports as bus errors.
 * The classes are the id bits of linux/can/error.h; byte 1 details controller problems.
 */
const ERR_CLASSES: [number, string][] = [
  [0x001, 'tx-timeout'],
  [0x002, 'arbitration-lost'],
  [0x004, 'controller'],
  [0x008, 'protocol-violation'],
  [0x010, 'transceiver'],
  [0x020, 'no-ack'],
  [0x040, 'bus-off'],
  [0x080, 'bus-error'],
  [0x100, 'restarted'],
];
const CTRL_DETAILS: [number, string][] = [
  [0x01, 'rx-overflow'],
  [0x02, 'tx-overflow'],
  [0x04, 'rx-warning'],
  [0x08, 'tx-warning'],
  [0x10, 'rx-passive'],
  [0x20, 'tx-passive'],
  [0x40, 'active'],
];

/** Names the classes of an error frame (linux/can/error.h): e.g. ['bus-off'] or ['controller:rx-overflow']. */
export function describeErrorFrame(frame: { id: number; data: Buffer }): string[] {
  const kinds: string[] = [];
  for (const [bit, name] of ERR_CLASSES) {
    if (!(frame.id & bit)) continue;
    const details = bit === 0x004 ? CTRL_DETAILS.filter(([b]) => (frame.data[1] ?? 0) & b).map(([, d]) => d) : [];
    kinds.push(details.length ? details.map((d) => `${name}:${d}`).join(',') : name);
  }
  return kinds.length ? kinds : [`error-class-0x${frame.id.toString(16)}`];
}
