import { ShadownetError } from '../../core/errors.js';

/** Error codes of the routing information bases. */
export const RibErrorCode = {
  UNKNOWN_PEER: 'SHADOWNET_ERR_RIB_UNKNOWN_PEER',
  INVALID_PEER: 'SHADOWNET_ERR_RIB_INVALID_PEER',
  INVALID_PREFIX: 'SHADOWNET_ERR_RIB_INVALID_PREFIX',
  INVALID_OPTION: 'SHADOWNET_ERR_RIB_INVALID_OPTION',
  NOT_INTERNED: 'SHADOWNET_ERR_RIB_NOT_INTERNED',
} as const;
export type RibErrorCode = (typeof RibErrorCode)[keyof typeof RibErrorCode];

/** A call the RIB refused; `field` names the offending argument field. */
export class RibError extends ShadownetError {
  constructor(
    code: RibErrorCode,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'RibError';
  }
}
