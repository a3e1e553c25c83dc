/** `callback-spool db schema URL`: the SQL that creates a SQL target's tables, for a DBA to run by hand. */
import { schemaScript } from '../processor/sql/schema.js'
import { parseSqlTarget } from '../processor/sql/target-url.js'
import type { ToolIO } from './common.js'

/** `db schema URL`: the SQL of a target's tables; nothing is connected. */
export async function dbSchemaCommand (url: string, io: ToolIO): Promise<void> {
  const target = parseSqlTarget(url)
  await io.write(`-- callback-spool tables for ${target.display}\n${schemaScript(target.dialect, target.prefix)}`)
}
