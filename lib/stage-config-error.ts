// A stage option (`-c key=value` or cdk.json context) is wrong: `cdk synth` prints the message as one line with
// the option to fix (bin/app.ts). Its own file so that lib/stage.ts and the option parsers it imports share it.
export class StageConfigError extends Error {
  override readonly name: string = 'StageConfigError';
  constructor(
    /** The option, down to an entry's field where it has entries: `identityProviders[1].issuer`. */
    readonly key: string,
    reason: string,
  ) {
    // One line whatever the input held: a value quoted into the reason cannot break it.
    super(`context ${key} ${reason}`.replace(/[\r\n]+/g, ' '));
  }

  /** The `-c` option to fix: the key without an entry's index or field. */
  get option(): string {
    return this.key.replace(/[[.].*$/, '');
  }
}
