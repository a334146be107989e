/**
 * Typed errors shared by every component. Each error has a stable string
 * `code` (SHADOWNET_ERR_*) that scripts, logs and the HTTP API can rely on.
 * Components keep their own catalog (e.g. `wire/bgp/errors.ts`) and extend
 * {@link ShadownetError}.
 */
export class ShadownetError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'ShadownetError';
  }
}

/** Core catalog. */
export const CoreErrorCode = {
  INVALID_ARGUMENT: 'SHADOWNET_ERR_INVALID_ARGUMENT',
  INVALID_PREFIX: 'SHADOWNET_ERR_INVALID_PREFIX',
  INVALID_ADDRESS: 'SHADOWNET_ERR_INVALID_ADDRESS',
  CONFIG_INVALID: 'SHADOWNET_ERR_CONFIG_INVALID',
  CONFIG_NOT_FOUND: 'SHADOWNET_ERR_CONFIG_NOT_FOUND',
  NOT_FOUND: 'SHADOWNET_ERR_NOT_FOUND',
  CLOSED: 'SHADOWNET_ERR_CLOSED',
} as const;
export type CoreErrorCode = (typeof CoreErrorCode)[keyof typeof CoreErrorCode];

export class InvalidArgumentError extends ShadownetError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(CoreErrorCode.INVALID_ARGUMENT, message, options);
    this.name = 'InvalidArgumentError';
  }
}

export class InvalidAddressError extends ShadownetError {
  constructor(readonly input: string, options?: { cause?: unknown }) {
    super(CoreErrorCode.INVALID_ADDRESS, `not an IPv4 or IPv6 address: ${JSON.stringify(input)}`, options);
    this.name = 'InvalidAddressError';
  }
}

export class InvalidPrefixError extends ShadownetError {
  constructor(readonly input: string, reason: string, options?: { cause?: unknown }) {
    super(CoreErrorCode.INVALID_PREFIX, `not a valid prefix ${JSON.stringify(input)}: ${reason}`, options);
    this.name = 'InvalidPrefixError';
  }
}

/** One problem found in a config file, located by its path in the document. */
export interface ConfigIssue {
  /** Path in the file, e.g. `vnets[0].routers[1].asn`. */
  readonly path: string;
  /** What was expected or what is wrong. */
  readonly message: string;
}

export class ConfigError extends ShadownetError {
  constructor(
    readonly file: string,
    readonly issues: readonly ConfigIssue[],
    options?: { cause?: unknown },
  ) {
    super(
      CoreErrorCode.CONFIG_INVALID,
      `${file}: invalid configuration\n` + issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`).join('\n'),
      options,
    );
    this.name = 'ConfigError';
  }
}

export class NotFoundError extends ShadownetError {
  constructor(message: string) {
    super(CoreErrorCode.NOT_FOUND, message);
    this.name = 'NotFoundError';
  }
}
