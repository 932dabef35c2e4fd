/**
 * A firmware update's status (docs/firmware-updates.md): GET and POST /api/devices/:id/firmware,
 * the live stream's `firmware` messages, Home Assistant's update entity and the CLI's progress bar.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ORIGINS } from './vocabulary.js';

export const FIRMWARE_STAGES = ['queued', 'checking', 'transferring', 'installing', 'confirming', 'installed', 'failed'] as const;
export type FirmwareStage = (typeof FIRMWARE_STAGES)[number];

export const FirmwareStatus = Type.Object(
  {
    device: Type.String(),
    key: Type.String(),
    node: Type.Integer(),
    stage: Type.Union(FIRMWARE_STAGES.map((s) => Type.Literal(s))),
    from: Type.Optional(
      Type.String({ description: 'the version the socket ran when the update started; absent before its first heartbeat' }),
    ),
    to: Type.String(),
    progress: Type.Integer({ minimum: 0, maximum: 100, description: 'the transfer up to 95, the commit and confirmation after it' }),
    sentBytes: Type.Integer(),
    totalBytes: Type.Integer(),
    nodeFreeBytes: Type.Optional(Type.Integer({ description: 'free flash the socket announced' })),
    nodeBlockSize: Type.Optional(Type.Integer({ description: 'consecutive frames the socket takes per flow control' })),
    error: Type.Optional(Type.String()),
    origin: Type.Union(
      ORIGINS.map((o) => Type.Literal(o)),
      { description: 'who started it' },
    ),
    startedAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Optional(Type.String({ format: 'date-time' })),
    transferMs: Type.Optional(Type.Integer({ description: "from the first transfer frame to the commit's answer" })),
    copiedFiles: Type.Integer({
      description: 'files the socket already had and copied from its running firmware instead of receiving them',
    }),
  },
  { $id: 'FirmwareStatus' },
);
export type FirmwareStatus = Static<typeof FirmwareStatus>;
