/** `npm start` / `bulk-import serve`: runs the service until SIGINT or SIGTERM. */
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { isWriteAfterCloseBug } from './db/postgres.js';

export async function serve(): Promise<void> {
  const app = await buildApp(loadConfig());
  process.on('uncaughtException', (err) => {
    if (isWriteAfterCloseBug(err)) {
      app.log.warn({ err }, 'postgres.js wrote to a closed connection (known bug); ignored');
      return;
    }
    app.log.fatal({ err }, 'uncaught exception');
    process.exit(1);
  });
  await app.start();
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    app.stop().then(() => process.exit(0), (err) => {
      app.log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serve().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
