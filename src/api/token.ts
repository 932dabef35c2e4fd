/**
 * The API bearer token: generated on first start, stored with 0600 permissions next to the
 * database (or where configured), rotatable from the CLI (`canplug token rotate`).
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Where the token lives: `http.token_file`, else `token` beside the database. */
export function tokenPath(databasePath: string, configured = ''): string {
  return configured || join(dirname(databasePath), 'token');
}

/**
 * Written to a temporary file, flushed to the disk, renamed over the old one and the directory
 * flushed: a power cut leaves the old token or the new one, never an empty file (ext4 keeps a renamed
 * file's name before its data; the power-cut test met exactly that, and the daemon refused to start).
 */
function writeToken(path: string, token: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, `${token}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Reads the token, creating it when the file does not exist. */
export function loadOrCreateToken(path: string): { token: string; created: boolean } {
  if (existsSync(path)) {
    const token = readFileSync(path, 'utf8').trim();
    if (token.length < 16) throw new Error(`the API token in ${path} is shorter than 16 characters; rotate it with "canplug token rotate"`);
    return { token, created: false };
  }
  const token = generateToken();
  writeToken(path, token);
  return { token, created: true };
}

/** Replaces the token; the running daemon picks it up on its next check of the file. */
export function rotateToken(path: string): string {
  const token = generateToken();
  writeToken(path, token);
  return token;
}
