/**
 * The deployment files in contrib/: `systemd-analyze verify` on the units, and the settings the
 * issue asks for. verify checks that ExecStart's binary exists, so the units are copied to a temp
 * dir with /usr/bin/node and /opt/callback-spool rewritten to this machine's node and this checkout.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createProgram } from '../src/cli.js'
import { tempDir } from './helpers/tmp.js'

const ROOT = join(import.meta.dirname, '..')
const CONTRIB = join(ROOT, 'contrib')
const UNITS = ['callback-spool-receiver.service', 'callback-spool-process.service', 'callback-spool-process.timer', 'callback-spool-follow.service']

function read (name: string): Promise<string> {
  return readFile(join(CONTRIB, name), 'utf8')
}

/** Key=value settings of a unit file (comments and section headers dropped); repeated keys kept. */
function settings (text: string): Array<[string, string]> {
  return text.split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string])
}

function get (text: string, key: string): string | undefined {
  return settings(text).find(([k]) => k === key)?.[1]
}

function systemdAnalyze (): string | undefined {
  const which = spawnSync('sh', ['-c', 'command -v systemd-analyze'], { encoding: 'utf8' })
  return which.status === 0 ? which.stdout.trim() : undefined
}

async function copyForVerify (t: TestContext): Promise<string> {
  const dir = await tempDir(t)
  for (const name of UNITS) {
    const text = (await read(name)).replaceAll('/usr/bin/node', process.execPath).replaceAll('/opt/callback-spool', ROOT)
    await writeFile(join(dir, name), text)
  }
  return dir
}

test('systemd-analyze verify passes on the unit files, without a warning', async (t) => {
  const analyze = systemdAnalyze()
  if (analyze === undefined) {
    const reason = 'systemd-analyze not found (.ci/run installs it with apt-get when it can)'
    console.log(`# skipped: ${reason}`)
    t.skip(reason)
    return
  }
  const dir = await copyForVerify(t)
  const run = spawnSync(analyze, ['verify', ...UNITS.map((u) => join(dir, u))], { encoding: 'utf8', timeout: 30_000 })
  assert.equal(run.status, 0, run.stderr)
  // Unknown keys and bad values are only warnings (exit 0): any output is a failure here.
  assert.equal(run.stderr.trim(), '')

  // The same check on a broken copy does complain: this test can fail.
  await writeFile(join(dir, 'broken.service'), (await readFile(join(dir, UNITS[0]!), 'utf8')).replace('Type=simple', 'Type=simpel\nProtectSistem=strict'))
  const broken = spawnSync(analyze, ['verify', join(dir, 'broken.service')], { encoding: 'utf8', timeout: 30_000 })
  assert.match(broken.stderr, /simpel/)
  assert.match(broken.stderr, /ProtectSistem/)
})

test('the units share one user and StateDirectory, hardened, with the stop and restart settings asked for', async () => {
  const units = Object.fromEntries(await Promise.all(UNITS.map(async (u) => [u, await read(u)] as const)))
  const services = UNITS.filter((u) => u.endsWith('.service'))
  for (const name of services) {
    const text = units[name]!
    assert.equal(get(text, 'User'), 'callback-spool', name)
    assert.equal(get(text, 'Group'), 'callback-spool', name)
    assert.equal(get(text, 'StateDirectory'), 'callback-spool', name)
    assert.equal(get(text, 'ProtectSystem'), 'strict', name)
    assert.equal(get(text, 'NoNewPrivileges'), 'yes', name)
    assert.equal(get(text, 'PrivateTmp'), 'yes', name)
    assert.equal(get(text, 'KillSignal'), 'SIGTERM', name)
    assert.ok(get(text, 'TimeoutStopSec') !== undefined, name)
    assert.equal(get(text, 'PrivateNetwork'), undefined, `${name}: the receiver listens, handlers call out`)
    assert.match(get(text, 'ExecStart')!, /--data-dir \/var\/lib\/callback-spool( |$)/, name)
  }
  const receiver = units['callback-spool-receiver.service']!
  assert.equal(get(receiver, 'Restart'), 'always')
  const maxConnections = Number(/--max-connections (\d+)/.exec(get(receiver, 'ExecStart')!)?.[1])
  assert.ok(Number(get(receiver, 'LimitNOFILE')) >= maxConnections + 64, 'LimitNOFILE fits --max-connections')
  assert.equal(get(units['callback-spool-process.service']!, 'Type'), 'oneshot')
  assert.match(get(units['callback-spool-process.service']!, 'ExecStart')!, / process --data-dir/)
  assert.match(get(units['callback-spool-follow.service']!, 'ExecStart')!, / process --follow /)
  assert.equal(get(units['callback-spool-follow.service']!, 'Restart'), 'always')
  assert.equal(get(units['callback-spool-process.timer']!, 'OnCalendar'), '*-*-* *:*:00', 'every minute')
})

test('the receiver unit\'s flags are options the real `receive` command has', async () => {
  const exec = get(await read('callback-spool-receiver.service'), 'ExecStart')!
  const args = exec.split(/\s+/)
  assert.equal(args[2], 'receive')
  const receive = createProgram().commands.find((c) => c.name() === 'receive')!
  const known = new Set(receive.options.map((o) => o.long))
  for (const flag of args.filter((a) => a.startsWith('--'))) assert.ok(known.has(flag), `receive has no ${flag}`)
})

test('the crontab example sets PATH, changes directory, appends logs with stderr, and says why overlaps are harmless', async () => {
  const text = await read('crontab.example')
  assert.match(text, /^PATH=.*\/usr\/bin/m)
  const job = text.split('\n').find((l) => /^\* \* \* \* \* /.test(l))
  assert.ok(job !== undefined, 'an every-minute line')
  assert.match(job, /cd \/\S+ && node bin\/callback-spool\.js process --data-dir \S+ >> \S+\.log 2>&1$/)
  assert.match(text, /exits 0/)
})

test('the nginx example terminates TLS and passes the client address to a receiver told to trust it', async () => {
  const text = await read('nginx-callback-spool.conf')
  assert.match(text, /listen 443 ssl;/)
  assert.match(text, /proxy_set_header X-Forwarded-For \$remote_addr;/)
  assert.match(text, /--trust-proxy/)
  assert.match(text, /server 127\.0\.0\.1:8080;/)
  assert.match(await read('callback-spool-receiver.service'), /--host 127\.0\.0\.1 --port 8080/)
})
