/** Error catalog of the BGP session layer. */
import { ShadownetError } from '../../core/errors.js';

export const SessionErrorCode = {
  /** The speaker could not listen on its address/port. */
  LISTEN_FAILED: 'SHADOWNET_ERR_BGP_LISTEN_FAILED',
  /** Two peers configured with the same address, or a setting out of range. */
  PEER_CONFIG: 'SHADOWNET_ERR_BGP_PEER_CONFIG',
  /** A message was sent on a session that is not Established. */
  NOT_ESTABLISHED: 'SHADOWNET_ERR_BGP_NOT_ESTABLISHED',
  /** A peer's OPEN, a stream or a message was refused (carried to onPeerError). */
  PEER_PROTOCOL: 'SHADOWNET_ERR_BGP_PEER_PROTOCOL',
  /** The socket of a peer failed. */
  PEER_SOCKET: 'SHADOWNET_ERR_BGP_PEER_SOCKET',
} as const;
export type SessionErrorCode = (typeof SessionErrorCode)[keyof typeof SessionErrorCode];

export class BgpSessionError extends ShadownetError {
  constructor(code: SessionErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'BgpSessionError';
  }
}
