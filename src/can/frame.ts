/** A classic CAN 2.0 frame as it crosses a transport. */
export interface CanFrame {
  id: number;
  data: Buffer;
  /** 29-bit identifier; protocol v1 only uses 11-bit ids. */
  ext?: boolean;
  /** Remote transmission request: carries no data. */
  rtr?: boolean;
  /** Error frame reported by the controller (SocketCAN CAN_ERR_FLAG). */
  err?: boolean;
}

export function formatFrame(frame: CanFrame): string {
  const id = frame.id
    .toString(16)
    .toUpperCase()
    .padStart(frame.ext ? 8 : 3, '0');
  if (frame.rtr) return `${id}#R`;
  return `${id}#${frame.data.toString('hex').toUpperCase()}`;
}

/** Parses candump/cansend notation, e.g. `181#FA08F401B004010C`. */
export function parseFrame(text: string): CanFrame {
  const match = /^([0-9A-Fa-f]{3}|[0-9A-Fa-f]{8})#(R|[0-9A-Fa-f]{0,16})$/.exec(text.trim());
  if (!match) throw new Error(`not a frame in cansend notation: "${text}"`);
  const ext = match[1].length === 8;
  if (match[2] === 'R') return { id: parseInt(match[1], 16), data: Buffer.alloc(0), rtr: true, ext };
  if (match[2].length % 2 !== 0) throw new Error(`odd number of hex digits in "${text}"`);
  return { id: parseInt(match[1], 16), data: Buffer.from(match[2], 'hex'), ext };
}
