import { pino } from 'pino';

export type Logger = pino.Logger;

/**
 * Structured JSON logs; on a terminal, pino-pretty makes them readable. Never log an API key or
 * an Authorization header: pino's redact guards the obvious paths.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    redact: { paths: ['authorization', 'headers.authorization', 'req.headers.authorization', 'key', 'apiKey'], censor: '[redacted]' },
    ...(process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } } } : {}),
  });
}
