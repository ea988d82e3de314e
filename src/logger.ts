import { pino } from 'pino';

export type Logger = pino.Logger;

/** Structured JSON logs. Never log an API key or an Authorization header: pino's redact guards the obvious paths. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['authorization', 'headers.authorization', 'req.headers.authorization', 'key', 'apiKey'], censor: '[redacted]' },
  });
}
