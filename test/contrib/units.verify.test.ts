/**
 * The deployment files in contrib/: `systemd-analyze verify` on the units, and the settings the
 * issue asks for. verify checks that ExecStart's binary exists, so the units are copied to a temp
 * dir with /usr/bin/node and /opt/callback-spool rewritten to this machine's node and this checkout.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { createProgram } from '../../src/cli.js'
import { tempDir } from '../helpers/tmp.js'

const ROOT = join(import.meta.dirname, '..', '..')
const CONTRIB = join(ROOT, 'contrib')
const UNITS = ['callback-spool-receiver.service', 'callback-spool-process.service', 'callback-spool-process.timer', 'callback-spool-follow.service', 'callback-spool-forward.service', 'callback-spool-pool.service']

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
    // A pool's processor has a data dir of its own (it may run beside a receiver), asserted below.
    const state = name === 'callback-spool-pool.service' ? 'callback-spool-pool' : 'callback-spool'
    assert.equal(get(text, 'StateDirectory'), state, name)
    assert.equal(get(text, 'ProtectSystem'), 'strict', name)
    assert.equal(get(text, 'NoNewPrivileges'), 'yes', name)
    assert.equal(get(text, 'PrivateTmp'), 'yes', name)
    assert.equal(get(text, 'KillSignal'), 'SIGTERM', name)
    assert.ok(get(text, 'TimeoutStopSec') !== undefined, name)
    assert.equal(get(text, 'PrivateNetwork'), undefined, `${name}: the receiver listens, handlers call out`)
    assert.match(get(text, 'ExecStart')!, new RegExp(`--data-dir /var/lib/${state}( |$)`), name)
  }
  const receiver = units['callback-spool-receiver.service']!
  assert.equal(get(receiver, 'Restart'), 'always')
  const maxConnections = Number(/--max-connections (\d+)/.exec(get(receiver, 'ExecStart')!)?.[1])
  assert.ok(Number(get(receiver, 'LimitNOFILE')) >= maxConnections + 64, 'LimitNOFILE fits --max-connections')
  assert.equal(get(units['callback-spool-process.service']!, 'Type'), 'oneshot')
  assert.match(get(units['callback-spool-process.service']!, 'ExecStart')!, / process --data-dir/)
  assert.match(get(units['callback-spool-follow.service']!, 'ExecStart')!, / process --follow /)
  assert.equal(get(units['callback-spool-follow.service']!, 'Restart'), 'always')
  // The forwarder is this host's processor, following the spool into NATS: never beside another one.
  const forward = units['callback-spool-forward.service']!
  assert.match(get(forward, 'ExecStart')!, / process --follow /)
  assert.equal(get(forward, 'Restart'), 'always')
  assert.deepEqual(get(forward, 'Conflicts')!.split(' ').sort(), ['callback-spool-follow.service', 'callback-spool-process.service', 'callback-spool-process.timer'])
  assert.match(get(forward, 'Environment')!, /^CALLBACK_SPOOL_ON=\*=nats:\/\//)
  const envFiles = settings(forward).filter(([k]) => k === 'EnvironmentFile').map(([, v]) => v)
  assert.deepEqual(envFiles, ['-/etc/default/callback-spool', '-/etc/default/callback-spool-forward'])
  // A processor of a pool: the stream as its source, a data dir of its own (it may run beside a receiver).
  const pool = units['callback-spool-pool.service']!
  assert.match(get(pool, 'ExecStart')!, / process --follow --data-dir \/var\/lib\/callback-spool-pool$/)
  assert.equal(get(pool, 'StateDirectory'), 'callback-spool-pool')
  assert.match(get(pool, 'Environment')!, /^CALLBACK_SPOOL_SOURCE=nats:\/\/.*\?stream=CALLBACKS&consumer=callback-spool$/)
  assert.equal(get(pool, 'Conflicts'), undefined)
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

function which (command: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v ${command} || PATH="$PATH:/usr/sbin:/sbin" command -v ${command}`], { encoding: 'utf8' })
  return found.status === 0 ? found.stdout.trim() : undefined
}

test('nginx -t accepts the nginx example as written (nginx 1.22, Debian 12, and later)', async (t) => {
  const nginx = which('nginx')
  const openssl = which('openssl')
  if (nginx === undefined || openssl === undefined) {
    const reason = `${nginx === undefined ? 'nginx' : 'openssl'} not found (.ci/run installs nginx with apt-get when it can)`
    console.log(`# skipped: ${reason}`)
    t.skip(reason)
    return
  }
  const dir = await tempDir(t)
  // The certificate paths are Let's Encrypt's; nginx -t loads them, so give it a throwaway pair.
  const cert = spawnSync(openssl, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=callbacks.example.com',
    '-keyout', join(dir, 'privkey.pem'), '-out', join(dir, 'fullchain.pem')], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(cert.status, 0, cert.stderr)
  const site = (await read('nginx-callback-spool.conf')).replaceAll('/etc/letsencrypt/live/callbacks.example.com', dir)
  const check = async (text: string): Promise<ReturnType<typeof spawnSync>> => {
    await writeFile(join(dir, 'site.conf'), text)
    // A minimal nginx.conf around it, as Debian's includes sites-enabled/ inside http {}.
    await writeFile(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\n` +
      `http {\n  client_body_temp_path ${dir}/body;\n  include ${dir}/site.conf;\n}\n`)
    return spawnSync(nginx, ['-t', '-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')], { encoding: 'utf8', timeout: 30_000 })
  }
  const run = await check(site)
  assert.equal(run.status, 0, String(run.stderr))
  assert.match(String(run.stderr), /test is successful/)
  // A directive this nginx does not know fails the same check: it can fail.
  const broken = await check(site.replace('listen 443 ssl;', 'listen 443 ssl;\n    no_such_directive on;'))
  assert.notEqual(broken.status, 0)
  assert.match(String(broken.stderr), /no_such_directive/)
})

test('systemd-analyze security --offline=true: every service 3.x or better, as hardened as the receiver', async (t) => {
  const analyze = systemdAnalyze()
  if (analyze === undefined) {
    t.skip('systemd-analyze not found (.ci/run installs it with apt-get when it can)')
    return
  }
  const scores: Record<string, number> = {}
  for (const name of UNITS.filter((u) => u.endsWith('.service'))) {
    const run = spawnSync(analyze, ['security', '--offline=true', '--no-pager', join(CONTRIB, name)], { encoding: 'utf8', timeout: 30_000 })
    const score = /Overall exposure level for \S+: (\d+\.\d+)/.exec(run.stdout)?.[1]
    assert.ok(score !== undefined, `${name}: ${run.stdout.slice(-300)}${run.stderr}`)
    scores[name] = Number(score)
    assert.ok(scores[name]! < 4, `${name} scores ${score}: 3.x or better expected`)
  }
  t.diagnostic(`exposure: ${JSON.stringify(scores)}`)
})

test('no service restarts after exit 64 or 78: a restart would fail the same way', async () => {
  for (const name of UNITS.filter((u) => u.endsWith('.service'))) {
    assert.equal(get(await read(name), 'RestartPreventExitStatus'), '64 78', name)
  }
})

test('the crontab\'s log directory is created by the tmpfiles file and rotated by the logrotate file', async (t) => {
  const job = (await read('crontab.example')).split('\n').find((l) => /^\* \* \* \* \* /.test(l))!
  const log = />> (\S+)/.exec(job)![1]!
  const logDir = log.slice(0, log.lastIndexOf('/'))
  const tmpfiles = await read('callback-spool.tmpfiles')
  assert.match(tmpfiles, new RegExp(`^d ${logDir} 0750 callback-spool callback-spool -$`, 'm'))
  assert.match(tmpfiles, /^d \/var\/lib\/callback-spool 0750 callback-spool callback-spool -$/m)
  assert.match(await read('callback-spool.logrotate'), new RegExp(`^${logDir}/\\*\\.log \\{`, 'm'))
  const sysusers = await read('callback-spool.sysusers')
  assert.match(sysusers, /^u callback-spool /m)

  const tool = which('systemd-tmpfiles')
  if (tool === undefined) {
    t.skip('systemd-tmpfiles not found')
    return
  }
  // Create them under a temp root (as root: the user of sysusers may not exist here, so root owns them).
  const root = await tempDir(t)
  const conf = join(root, 'callback-spool.conf')
  await writeFile(conf, tmpfiles.replaceAll('callback-spool callback-spool', 'root root'))
  const run = spawnSync(tool, ['--create', `--root=${root}`, conf], { encoding: 'utf8', timeout: 30_000 })
  assert.equal(run.status, 0, run.stderr)
  assert.ok(existsSync(join(root, logDir)), `${logDir} created`)
})
