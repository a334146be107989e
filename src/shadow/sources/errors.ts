/**
 * Errors of the packet sources and copy targets. Bad packets and records are
 * never thrown: they are counted by reason. These errors are for a source or
 * target that cannot start at all (an unreadable file, a missing tcpdump, a
 * port already in use) or for options that make no sense.
 */
import { ShadownetError } from '../../core/errors.js';

export const PacketIoErrorCode = {
  /** The file is not a pcap or pcapng capture (its first bytes say so). */
  CAPTURE_BAD_MAGIC: 'SHADOWNET_ERR_CAPTURE_BAD_MAGIC',
  /** The file ends before its header is complete. */
  CAPTURE_TRUNCATED: 'SHADOWNET_ERR_CAPTURE_TRUNCATED',
  /** The capture file cannot be opened or read. */
  CAPTURE_READ_FAILED: 'SHADOWNET_ERR_CAPTURE_READ_FAILED',
  /** The tcpdump binary cannot be run. */
  TCPDUMP_NOT_FOUND: 'SHADOWNET_ERR_TCPDUMP_NOT_FOUND',
  /** tcpdump started but could not capture (no such interface, no permission, bad filter). */
  TCPDUMP_FAILED: 'SHADOWNET_ERR_TCPDUMP_FAILED',
  /** A UDP socket could not be bound (address in use, not local, no permission). */
  SOCKET_BIND_FAILED: 'SHADOWNET_ERR_SOCKET_BIND_FAILED',
  /** An option of a source or target is out of range. */
  INVALID_OPTION: 'SHADOWNET_ERR_PACKET_IO_INVALID_OPTION',
  /** The source or target was already closed. */
  CLOSED: 'SHADOWNET_ERR_PACKET_IO_CLOSED',
} as const;
export type PacketIoErrorCode = (typeof PacketIoErrorCode)[keyof typeof PacketIoErrorCode];

/** A source or target that cannot do its work; `field` and `offset` locate the fault when it lies in a file or option. */
export class PacketIoError extends ShadownetError {
  constructor(
    code: PacketIoErrorCode,
    message: string,
    readonly field?: string,
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(
      code,
      field === undefined
        ? message
        : `${message} (field ${field}${offset === undefined ? '' : ` at offset ${offset}`})`,
      options,
    );
    this.name = 'PacketIoError';
  }
}
