// The version of this Letterbox, from its package.json (`letterbox --version`).
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** package.json's version: it is one level up from src/, two from dist/src/. */
export function letterboxVersion(): string {
  if (cached) return cached;
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as {
        version?: string;
        bin?: Record<string, string>;
      };
      if (pkg.bin?.letterbox && pkg.version) {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // Not this level.
    }
  }
  return 'unknown';
}
