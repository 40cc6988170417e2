import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteFile } from '../../src/storage/sqlite-file.js';

const SCHEMA = 'CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, v TEXT NOT NULL);';
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'span-relay-sqlite-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const settings = (path: string) => {
  const db = openSqliteFile(path, { schema: SCHEMA });
  try {
    return {
      autoVacuum: db.pragma('auto_vacuum', { simple: true }),
      journal: db.pragma('journal_mode', { simple: true }),
      synchronous: db.pragma('synchronous', { simple: true }),
      tables: (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name),
    };
  } finally {
    db.close();
  }
};
// incremental auto-vacuum (2), WAL, synchronous NORMAL (1), the schema's table.
const MADE = { autoVacuum: 2, journal: 'wal', synchronous: 1, tables: ['items'] };

describe('openSqliteFile', () => {
  it('makes a new file (and its directory) with incremental auto-vacuum, WAL and the schema, and leaves no temporary file beside it', () => {
    const dir = tmp();
    const path = join(dir, 'data', 'store.db');
    expect(settings(path)).toEqual(MADE);
    expect(readdirSync(join(dir, 'data'))).toEqual(['store.db']);
  });

  it('opens an existing file with what it holds, and adds the tables an older schema lacked', () => {
    const path = join(tmp(), 'store.db');
    const db = openSqliteFile(path, { schema: SCHEMA });
    db.prepare('INSERT INTO items (v) VALUES (?)').run('kept');
    db.close();
    const again = openSqliteFile(path, { schema: `${SCHEMA} CREATE TABLE IF NOT EXISTS more (k TEXT);` });
    expect(again.prepare('SELECT v FROM items').all()).toEqual([{ v: 'kept' }]);
    expect(again.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'more'").get()).toEqual({ n: 1 });
    expect(again.pragma('auto_vacuum', { simple: true })).toBe(2);
    again.close();
  });

  it('does not write an existing file to open it', () => {
    const path = join(tmp(), 'store.db');
    openSqliteFile(path, { schema: SCHEMA }).close();
    const before = statSync(path);
    const db = openSqliteFile(path, { schema: SCHEMA });
    const wal = statSync(`${path}-wal`).size;
    db.close();
    expect(statSync(path).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(path).size).toBe(before.size);
    expect(wal).toBe(0);
  });

  it('an empty file already at the path gets the same settings, made in place', () => {
    const dir = tmp();
    mkdirSync(join(dir, 'data'));
    const path = join(dir, 'data', 'store.db');
    writeFileSync(path, '');
    expect(settings(path)).toEqual(MADE);
  });

  it('in memory, the same settings where SQLite has them (no WAL for a memory database)', () => {
    const db = openSqliteFile(':memory:', { schema: SCHEMA });
    expect(db.pragma('auto_vacuum', { simple: true })).toBe(2);
    expect(db.pragma('journal_mode', { simple: true })).toBe('memory');
    db.close();
  });
});
