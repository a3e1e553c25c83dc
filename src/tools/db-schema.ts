/** `callback-spool db schema URL`: the SQL that creates a SQL target's tables, for a DBA to run by hand. */
import type { Command } from 'commander'
import { schemaScript } from '../processor/sql/schema.js'
import { parseSqlTarget } from '../processor/sql/target-url.js'
import type { ToolIO } from './common.js'

export function addDbCommand (program: Command, makeIO: () => ToolIO): Command {
  const db = program.command('db').description('the PostgreSQL and MariaDB/MySQL targets\' tables')
  db.command('schema')
    .description('print the SQL that creates the tables of a postgres:// or mysql:// target (they are also created when missing)')
    .argument('<url>', 'the target, as given to `process --on` (?prefix= applies; nothing is connected)')
    .addHelpText('after', `
Examples:
  callback-spool db schema postgres://app@db.example.com/app | psql -h db.example.com -U admin app
  callback-spool db schema 'mysql://app@127.0.0.1/app?prefix=sms_' > callback-tables.sql
`)
    .action(async (url: string) => {
      const target = parseSqlTarget(url)
      await makeIO().write(`-- callback-spool tables for ${target.display}\n${schemaScript(target.dialect, target.prefix)}`)
    })
  return db
}
