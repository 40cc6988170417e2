/**
 * Opens a SQLite file (better-sqlite3) in WAL mode with incremental auto-vacuum, its schema made by
 * `schema` (CREATE ... IF NOT EXISTS: it runs at every open, and adds what an older file lacks).
 *
 * A new file is made whole under a temporary name, without a journal and without SQLite's fsyncs,
 * then synced once and linked into place: 2 fsyncs instead of the 10 that SQLite's own creation
 * takes (two rollback-journal transactions, auto_vacuum and the switch to WAL, then the first WAL
 * commit). An fsync on this machine's shared disk took 0.1-107 ms under other processes' writes, and
 * every first start of the embedded default creates its store (README, "Production runs compiled
 * JavaScript"). Nobody sees the file until it is whole: a crash while it is made leaves only the
 * temporary file, never a half-made store at `path`.
 *
 * An existing file is not written at open: auto_vacuum is set only on an empty one (SQLite takes it
 * only before the first table, and setting it again cost a write and 2 fsyncs at every restart).
 */
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export interface SqliteFileOptions {
  /** better-sqlite3's addon, when known (else its own search). */
  nativeBinding?: string | undefined;
  /** The tables and indexes, each CREATE ... IF NOT EXISTS. */
  schema: string;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The settings a new file gets before its first table; the journal last (it is kept in the file). */
function initialize(db: Database.Database, schema: string): void {
  // Lets deleted pages go back to the file system.
  db.pragma('auto_vacuum = INCREMENTAL');
  db.exec(schema);
  db.pragma('journal_mode = WAL');
}

/**
 * Makes `path` as `initialize` would, under a temporary name beside it, and links it into place.
 * Where the file system cannot link, nothing is made here: the caller makes the file in place.
 */
function createWhole(path: string, options: SqliteFileOptions): void {
  const partial = `${path}.${process.pid}.new`;
  rmSync(partial, { force: true });
  try {
    const db = new Database(partial, { nativeBinding: options.nativeBinding });
    try {
      // No journal and no fsync while it is made: nothing reads this file before it is whole,
      // and it is synced below before it gets its name.
      db.pragma('journal_mode = OFF');
      db.pragma('synchronous = OFF');
      initialize(db, options.schema);
    } finally {
      db.close();
    }
    fsyncPath(partial);
    try {
      // link, not rename: a file another process made meanwhile is kept, not replaced.
      linkSync(partial, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return;
    }
    fsyncPath(dirname(path));
  } finally {
    rmSync(partial, { force: true });
  }
}

export function openSqliteFile(path: string, options: SqliteFileOptions): Database.Database {
  if (path !== ':memory:') {
    mkdirSync(dirname(path), { recursive: true });
    if (!existsSync(path)) createWhole(path, options);
  }
  const db = new Database(path, { nativeBinding: options.nativeBinding });
  // In memory, an empty file someone else left, or where the file system could not link: made in place.
  if (db.pragma('page_count', { simple: true }) === 0) db.pragma('auto_vacuum = INCREMENTAL');
  // A no-op on a file made here or before; turns a file from before WAL into one.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(options.schema);
  return db;
}
