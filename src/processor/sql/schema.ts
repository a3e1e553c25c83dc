/**
 * The SQL targets' tables, per dialect: what `db schema URL` prints and what a handler creates
 * when they are missing. The version recorded in `<prefix>callback_schema` lets a later release
 * migrate.
 */
import type { SqlDialect } from './target-url.js'

/**
 * Bumped with each change to the tables below; a later release migrates from the recorded one.
 * 2: `callbacks.dedupe_key`, the provider's natural key of the event, with a unique index (a
 * re-send inserts nothing and changes no state row).
 * 3: `callback_optins`, each number's latest opt-in, so that an opt-out older than it, written in
 * a later batch, does not put the number back in `callback_optouts`. The migration fills it from the
 * opt-ins already in `callbacks`, and drops from `callback_optouts` the numbers whose opt-in is at or
 * after their opt-out (see postgresVersion3Backfill).
 */
export const SCHEMA_VERSION = 3

export interface TableNames {
  callbacks: string
  optouts: string
  optins: string
  deliveries: string
  schema: string
}

export function tableNames (prefix: string): TableNames {
  return {
    callbacks: `${prefix}callbacks`,
    optouts: `${prefix}callback_optouts`,
    optins: `${prefix}callback_optins`,
    deliveries: `${prefix}callback_deliveries`,
    schema: `${prefix}callback_schema`,
  }
}

/**
 * Version 3's migration of tables that have no version 3 recorded (versions 1 and 2): each number's
 * latest opt-in in `callbacks` goes into `callback_optins`, dated as the handlers date opt-ins
 * (`event_time`, else `received_at`; for two at the same time, the later in the spool: the greater
 * id, a UUIDv7), and a number whose opt-out in `callback_optouts` is not newer than that opt-in
 * leaves it, as an opt-in written after the opt-out removes it. Version 1 never removed a number
 * on an opt-in, and version 2 let an opt-out older than an opt-in already written, arriving later,
 * put the number back. Run after the CREATE TABLE statements and before version 3 is recorded,
 * under the same lock: each statement does nothing once a version of 3 or later is recorded (a
 * second start, or the second of two processors starting together), and a fresh install has no row
 * to read. 3, not SCHEMA_VERSION: a later version must not run it again.
 */
function postgresVersion3Backfill (t: TableNames): string[] {
  const before3 = `NOT EXISTS (SELECT 1 FROM ${t.schema} WHERE version >= 3)`
  return [
    `INSERT INTO ${t.optins} AS cur (number, opted_in_at, record_id)
SELECT DISTINCT ON (number) number, coalesce(event_time, received_at), id FROM ${t.callbacks}
WHERE kind = 'optin' AND number IS NOT NULL AND ${before3}
ORDER BY number, coalesce(event_time, received_at) DESC, id DESC
ON CONFLICT (number) DO UPDATE SET opted_in_at = EXCLUDED.opted_in_at, record_id = EXCLUDED.record_id
  WHERE EXCLUDED.opted_in_at >= cur.opted_in_at`,
    `DELETE FROM ${t.optouts} AS cur USING ${t.optins} AS o
WHERE o.number = cur.number AND o.opted_in_at >= cur.opted_out_at AND ${before3}`,
  ]
}

/**
 * The same for MySQL and MariaDB, whose statements are not in one transaction: the upsert makes a
 * run cut short before version 3 is recorded safe to run again. No window function (none before
 * MySQL 8.0): each number's latest time, then the greatest id at that time.
 */
function mysqlVersion3Backfill (t: TableNames): string[] {
  const before3 = `NOT EXISTS (SELECT 1 FROM \`${t.schema}\` WHERE \`version\` >= 3)`
  return [
    `INSERT INTO \`${t.optins}\` (\`number\`, \`opted_in_at\`, \`record_id\`)
SELECT v.n, v.at, v.rid FROM (
  SELECT c.\`number\` AS n, l.at, MAX(c.\`id\`) AS rid FROM \`${t.callbacks}\` AS c
  JOIN (SELECT \`number\`, MAX(COALESCE(\`event_time\`, \`received_at\`)) AS at FROM \`${t.callbacks}\`
    WHERE \`kind\` = 'optin' AND \`number\` IS NOT NULL GROUP BY \`number\`) AS l
    ON c.\`number\` = l.\`number\` AND COALESCE(c.\`event_time\`, c.\`received_at\`) = l.at
  WHERE c.\`kind\` = 'optin'
  GROUP BY c.\`number\`, l.at
) AS v
WHERE ${before3}
ON DUPLICATE KEY UPDATE \`record_id\` = IF(VALUES(\`opted_in_at\`) >= \`opted_in_at\`, VALUES(\`record_id\`), \`record_id\`),
  \`opted_in_at\` = GREATEST(\`opted_in_at\`, VALUES(\`opted_in_at\`))`,
    `DELETE FROM \`${t.optouts}\`
WHERE EXISTS (SELECT 1 FROM \`${t.optins}\` AS o WHERE o.\`number\` = \`${t.optouts}\`.\`number\` AND o.\`opted_in_at\` >= \`${t.optouts}\`.\`opted_out_at\`)
  AND ${before3}`,
  ]
}

// Column sizes: a value longer than these is refused by the database, and that record alone is
// dead-lettered (a provider's message ids and statuses are short; numbers are at most 15 digits).
function postgresTables (t: TableNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS ${t.callbacks} (
  id uuid PRIMARY KEY,
  kind varchar(16) NOT NULL,
  received_at timestamptz NOT NULL,
  event_time timestamptz,
  message_id varchar(255),
  number varchar(64),
  status varchar(64),
  text text,
  fields jsonb NOT NULL,
  dedupe_key varchar(255)
)`,
    // Version 1's tables: the column and its index added (idempotent, also for a fresh table).
    `ALTER TABLE ${t.callbacks} ADD COLUMN IF NOT EXISTS dedupe_key varchar(255)`,
    `CREATE UNIQUE INDEX IF NOT EXISTS ${t.callbacks}_dedupe_key ON ${t.callbacks} (dedupe_key)`,
    `CREATE TABLE IF NOT EXISTS ${t.optouts} (
  number varchar(64) PRIMARY KEY,
  opted_out_at timestamptz NOT NULL,
  record_id uuid NOT NULL
)`,
    // Version 2's tables: this one is new in version 3.
    `CREATE TABLE IF NOT EXISTS ${t.optins} (
  number varchar(64) PRIMARY KEY,
  opted_in_at timestamptz NOT NULL,
  record_id uuid NOT NULL
)`,
    `CREATE TABLE IF NOT EXISTS ${t.deliveries} (
  message_id varchar(255) NOT NULL,
  number varchar(64) NOT NULL,
  status varchar(64),
  event_time timestamptz,
  record_id uuid NOT NULL,
  PRIMARY KEY (message_id, number)
)`,
    `CREATE TABLE IF NOT EXISTS ${t.schema} (
  version integer PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
)`,
  ]
}

// utf8mb4_bin: ids and numbers compare byte for byte, as in PostgreSQL (the default collations
// would make `sms_A` and `sms_a` the same key).
const MYSQL_TABLE_OPTIONS = 'ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin'

function mysqlTables (t: TableNames): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS \`${t.callbacks}\` (
  \`id\` char(36) CHARACTER SET ascii NOT NULL PRIMARY KEY,
  \`kind\` varchar(16) NOT NULL,
  \`received_at\` datetime(3) NOT NULL,
  \`event_time\` datetime(3) NULL,
  \`message_id\` varchar(255) NULL,
  \`number\` varchar(64) NULL,
  \`status\` varchar(64) NULL,
  \`text\` mediumtext NULL,
  \`fields\` json NOT NULL,
  \`dedupe_key\` varchar(255) NULL,
  UNIQUE KEY \`dedupe_key\` (\`dedupe_key\`)
) ${MYSQL_TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.optouts}\` (
  \`number\` varchar(64) NOT NULL PRIMARY KEY,
  \`opted_out_at\` datetime(3) NOT NULL,
  \`record_id\` char(36) CHARACTER SET ascii NOT NULL
) ${MYSQL_TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.optins}\` (
  \`number\` varchar(64) NOT NULL PRIMARY KEY,
  \`opted_in_at\` datetime(3) NOT NULL,
  \`record_id\` char(36) CHARACTER SET ascii NOT NULL
) ${MYSQL_TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.deliveries}\` (
  \`message_id\` varchar(255) NOT NULL,
  \`number\` varchar(64) NOT NULL,
  \`status\` varchar(64) NULL,
  \`event_time\` datetime(3) NULL,
  \`record_id\` char(36) CHARACTER SET ascii NOT NULL,
  PRIMARY KEY (\`message_id\`, \`number\`)
) ${MYSQL_TABLE_OPTIONS}`,
    `CREATE TABLE IF NOT EXISTS \`${t.schema}\` (
  \`version\` int NOT NULL PRIMARY KEY,
  \`applied_at\` datetime(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ${MYSQL_TABLE_OPTIONS}`,
  ]
}

/** Recorded last: a migration cut short before it (a crash, a lost connection) runs again at the next start. */
function recordVersion (dialect: SqlDialect, t: TableNames): string {
  return dialect === 'postgres'
    ? `INSERT INTO ${t.schema} (version) VALUES (${SCHEMA_VERSION}) ON CONFLICT (version) DO NOTHING`
    : `INSERT INTO \`${t.schema}\` (\`version\`) VALUES (${SCHEMA_VERSION}) ON DUPLICATE KEY UPDATE \`version\` = \`version\``
}

/** MySQL and MariaDB: the CREATE TABLE IF NOT EXISTS statements alone, which the handler runs before mysqlMigration. */
export function mysqlTableStatements (prefix: string): string[] {
  return mysqlTables(tableNames(prefix))
}

/**
 * MySQL and MariaDB: what brings the tables mysqlTableStatements left to this version, given
 * whether version 1's `callbacks` has the `dedupe_key` column and index (MySQL has no ADD COLUMN
 * IF NOT EXISTS), then version 3's backfill, then the version recorded: a migration cut short
 * before the column was added is not taken for done.
 */
export function mysqlMigration (prefix: string, has: { column: boolean, index: boolean }): string[] {
  const t = tableNames(prefix)
  const out: string[] = []
  if (!has.column) out.push(`ALTER TABLE \`${t.callbacks}\` ADD COLUMN \`dedupe_key\` varchar(255) NULL`)
  if (!has.index) out.push(`ALTER TABLE \`${t.callbacks}\` ADD UNIQUE KEY \`dedupe_key\` (\`dedupe_key\`)`)
  return [...out, ...mysqlVersion3Backfill(t), recordVersion('mysql', t)]
}

/** The statements that create the tables when missing, or migrate them, in order; each runs on its own. */
export function schemaStatements (dialect: SqlDialect, prefix: string): string[] {
  const t = tableNames(prefix)
  // Versions 1 and 2's opt-ins, before version 3 is recorded.
  return dialect === 'postgres'
    ? [...postgresTables(t), ...postgresVersion3Backfill(t), recordVersion('postgres', t)]
    : [...mysqlTables(t), ...mysqlVersion3Backfill(t), recordVersion('mysql', t)]
}

/** The SQL script a DBA runs by hand (`db schema URL`). */
export function schemaScript (dialect: SqlDialect, prefix: string): string {
  const statements = schemaStatements(dialect, prefix)
  const body = statements.map((s) => `${s};\n`).join('\n')
  // MySQL and MariaDB commit each CREATE TABLE at once: a transaction would not hold them.
  return dialect === 'postgres' ? `BEGIN;\n\n${body}\nCOMMIT;\n` : body
}

/** Tables of a later release: this one must not write into them (the batch is retried, with this error). */
export function checkSchemaVersion (version: number | null, target: string): void {
  if (version !== null && version > SCHEMA_VERSION) {
    throw new Error(`the tables at ${target} are at schema version ${version}, newer than this release's ${SCHEMA_VERSION}: upgrade callback-spool`)
  }
}
