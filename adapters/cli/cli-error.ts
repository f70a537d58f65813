/** A failure the CLI reports as one line on stderr, with its exit code (1 failed, 2 usage). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
