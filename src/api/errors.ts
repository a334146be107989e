import { CoreErrorCode } from '../core/index.js';

/** The one table that maps error codes to HTTP statuses. */
export const HTTP_STATUS_BY_CODE: Readonly<Record<string, number>> = {
  [CoreErrorCode.INVALID_ARGUMENT]: 400,
  [CoreErrorCode.INVALID_PREFIX]: 400,
  [CoreErrorCode.INVALID_ADDRESS]: 400,
  [CoreErrorCode.CONFIG_INVALID]: 400,
  [CoreErrorCode.CONFIG_NOT_FOUND]: 404,
  [CoreErrorCode.NOT_FOUND]: 404,
  [CoreErrorCode.CLOSED]: 503,
};

export function httpStatusFor(code: string | undefined): number {
  return (code && HTTP_STATUS_BY_CODE[code]) || 500;
}
