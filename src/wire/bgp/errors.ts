import { ShadownetError } from '../../core/errors.js';
import type { ErrorAction } from './types.js';

/** NOTIFICATION error codes (RFC 4271 §4.5, RFC 4486, RFC 7313). */
export const NotificationCode = {
  MESSAGE_HEADER: 1,
  OPEN_MESSAGE: 2,
  UPDATE_MESSAGE: 3,
  HOLD_TIMER_EXPIRED: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH: 7,
} as const;

export const HeaderSubcode = { CONNECTION_NOT_SYNCHRONIZED: 1, BAD_MESSAGE_LENGTH: 2, BAD_MESSAGE_TYPE: 3 } as const;

export const OpenSubcode = {
  UNSUPPORTED_VERSION: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_IDENTIFIER: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
  ROLE_MISMATCH: 11,
} as const;

export const UpdateSubcode = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE: 2,
  MISSING_WELL_KNOWN_ATTRIBUTE: 3,
  ATTRIBUTE_FLAGS_ERROR: 4,
  ATTRIBUTE_LENGTH_ERROR: 5,
  INVALID_ORIGIN_ATTRIBUTE: 6,
  INVALID_NEXT_HOP_ATTRIBUTE: 8,
  OPTIONAL_ATTRIBUTE_ERROR: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;

/** FSM error subcodes (RFC 6608). */
export const FsmSubcode = {
  UNSPECIFIED: 0,
  UNEXPECTED_MESSAGE_IN_OPEN_SENT: 1,
  UNEXPECTED_MESSAGE_IN_OPEN_CONFIRM: 2,
  UNEXPECTED_MESSAGE_IN_ESTABLISHED: 3,
} as const;

/** Cease subcodes (RFC 4486, RFC 8203). */
export const CeaseSubcode = {
  MAX_PREFIXES_REACHED: 1,
  ADMINISTRATIVE_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMINISTRATIVE_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIGURATION_CHANGE: 6,
  CONNECTION_COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
  HARD_RESET: 9,
} as const;

const CODE_NAMES: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

export function notificationCodeName(code: number): string {
  return CODE_NAMES[code] ?? `UNKNOWN_${code}`;
}

export const BgpErrorCode = {
  DECODE: 'SHADOWNET_ERR_BGP_DECODE',
  ENCODE: 'SHADOWNET_ERR_BGP_ENCODE',
} as const;

/**
 * A BGP message that cannot be accepted. Carries the NOTIFICATION that
 * RFC 4271 prescribes and the RFC 7606 action, plus where in the bytes the
 * problem was found.
 */
export class BgpDecodeError extends ShadownetError {
  constructor(
    message: string,
    readonly notification: { readonly code: number; readonly subcode: number; readonly data: Uint8Array },
    readonly action: ErrorAction,
    readonly field: string,
    readonly offset: number,
    options?: { cause?: unknown },
  ) {
    super(BgpErrorCode.DECODE, `${message} (field ${field} at offset ${offset})`, options);
    this.name = 'BgpDecodeError';
  }
}

export class BgpEncodeError extends ShadownetError {
  constructor(message: string) {
    super(BgpErrorCode.ENCODE, message);
    this.name = 'BgpEncodeError';
  }
}
