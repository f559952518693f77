// One-line JSON logs. Callers pass identifiers (sub, triggerSource, outcome), never personal data.

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export type LogSink = (line: string) => void;

const defaultSink: LogSink = (line) => process.stdout.write(`${line}\n`);

// A class rather than closures: the handler makes two children per invocation, and methods on the prototype
// make a child one small object instead of five closures (the benchmark's warm run is a few hundred µs).
class JsonLogger implements Logger {
  constructor(
    private readonly base: LogFields,
    private readonly sink: LogSink,
  ) {}

  info(message: string, fields?: LogFields): void {
    this.write('INFO', message, fields);
  }

  warn(message: string, fields?: LogFields): void {
    this.write('WARN', message, fields);
  }

  error(message: string, fields?: LogFields): void {
    this.write('ERROR', message, fields);
  }

  child(fields: LogFields): Logger {
    return new JsonLogger({ ...this.base, ...fields }, this.sink);
  }

  private write(level: string, message: string, fields?: LogFields): void {
    this.sink(JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...this.base, ...fields }));
  }
}

export function createLogger(base: LogFields = {}, sink: LogSink = defaultSink): Logger {
  return new JsonLogger(base, sink);
}
