/**
 * Webhook signing secrets. A secret is shown to the tenant once, at creation; we must still sign
 * with it on every delivery, so it cannot be hashed like an API key: it is kept encrypted
 * (AES-256-GCM) under a server key that every instance on the database shares
 * (WEBHOOK_SECRETS_KEY). Without that setting, a key file in the data folder is made on first
 * use: right for the embedded, single-instance mode, wrong for a fleet (each instance would have
 * its own). The stored text names the key it was sealed with, so a delivery on an instance with
 * another key fails with that reason instead of a bare decryption error.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export const SECRET_PREFIX = 'whsec_';
const KEY_FILE = 'webhook-secrets.key';

/** A new signing secret, as Standard Webhooks writes them: `whsec_` and 24 random bytes in base64. */
export function newSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(24).toString('base64')}`;
}

/** The secret's HMAC key: the bytes its base64 stands for. */
export function signingKey(secret: string): Buffer {
  return Buffer.from(secret.slice(SECRET_PREFIX.length), 'base64');
}

export class SecretBox {
  private readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('WEBHOOK_SECRETS_KEY must be 32 bytes, written in base64 (e.g. `openssl rand -base64 32`)');
    this.keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  seal(secret: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return ['v1', this.keyId, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join(':');
  }

  open(stored: string): string {
    const [version, keyId, iv, tag, sealed] = stored.split(':');
    if (version !== 'v1' || !sealed) throw new Error('the webhook secret is stored in a form this version cannot read');
    if (keyId !== this.keyId) {
      throw new Error(`the webhook secret was encrypted with another key (${keyId}) than this instance's WEBHOOK_SECRETS_KEY (${this.keyId}): every instance needs the same key`);
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]).toString('utf8');
  }
}

/**
 * The box for this process: from WEBHOOK_SECRETS_KEY, else from the data folder's key file,
 * written (readable by its owner only) if there is none yet. Two processes on one folder that
 * start together agree: the file appears whole (a link to a finished draft) and only one link
 * can win, so both read the same key.
 */
export async function openSecretBox(settings: { webhookSecretsKey: string | undefined; dataDir: string }): Promise<SecretBox> {
  if (settings.webhookSecretsKey) return new SecretBox(Buffer.from(settings.webhookSecretsKey, 'base64'));
  const file = path.join(settings.dataDir, KEY_FILE);
  await fs.mkdir(settings.dataDir, { recursive: true });
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(draft, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  try {
    await fs.link(draft, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(draft, { force: true });
  }
  return new SecretBox(Buffer.from((await fs.readFile(file, 'utf8')).trim(), 'base64'));
}
