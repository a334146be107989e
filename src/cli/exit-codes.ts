/** Exit codes of the `shadownet` command; scripts may rely on them. */
export const ExitCode = {
  OK: 0,
  /** The work failed (bad input file, runtime error). */
  FAILURE: 1,
  /** Invalid usage or configuration. */
  USAGE: 2,
  /** The running shadownet (its API) could not be reached. */
  UNAVAILABLE: 3,
  /** The query matched nothing (e.g. no route for a lookup). */
  NOT_FOUND: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error that ends the command with a given exit code and a one-line message. */
export class CliExit extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
  ) {
    super(message);
    this.name = 'CliExit';
  }
}
