/** The outside programs the bench needs, checked before anything starts. */
import { spawnSync } from 'node:child_process'

/** strace arguments that make every fdatasync/fsync return 5 ms late, as a real disk would. */
export const SLOW_SYNC_PREFIX = [
  'strace', '-f', '--seccomp-bpf', '-e', 'trace=fdatasync,fsync',
  '-e', 'inject=fdatasync,fsync:delay_exit=5000', '-o', '/dev/null',
]

/** Returns one line per missing tool, each saying how to install it. */
export function missingTools (): string[] {
  const problems: string[] = []
  const wrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
  if (wrk.error !== undefined) {
    problems.push('wrk is not installed: run `apt-get update && apt-get install -y wrk` (Debian/Ubuntu), then `npm run bench` again')
  }
  // --seccomp-bpf stops the traced process only on the syscalls named; without it every syscall
  // would stop, and the figures would measure strace instead of the server.
  const strace = spawnSync(SLOW_SYNC_PREFIX[0]!, [...SLOW_SYNC_PREFIX.slice(1), 'true'], { encoding: 'utf8' })
  if (strace.error !== undefined) {
    problems.push('strace is not installed: run `apt-get update && apt-get install -y strace` (Debian/Ubuntu), then `npm run bench` again')
  } else if (strace.status !== 0) {
    problems.push(`strace cannot slow syncs here (needs --seccomp-bpf and syscall injection, strace >= 5.3): ${strace.stderr.trim().split('\n')[0] ?? ''}`)
  }
  return problems
}

export function wrkVersion (): string {
  const out = spawnSync('wrk', ['--version'], { encoding: 'utf8' })
  return (out.stdout + out.stderr).split('\n')[0]?.replace(/ Copyright.*/, '').trim() ?? 'wrk'
}
