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

export function createLogger(base: LogFields = {}, sink: LogSink = defaultSink): Logger {
  const write = (level: string, message: string, fields?: LogFields) =>
    sink(JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...base, ...fields }));
  return {
    info: (message, fields) => write('INFO', message, fields),
    warn: (message, fields) => write('WARN', message, fields),
    error: (message, fields) => write('ERROR', message, fields),
    child: (fields) => createLogger({ ...base, ...fields }, sink),
  };
}
