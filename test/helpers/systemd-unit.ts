/**
 * Starts a service the way systemd would start it from its unit file, for the install tests, which
 * run where systemd is not PID 1: the [Service] section's ExecStart, Environment, WorkingDirectory,
 * User, Group, UMask and NoNewPrivileges, with the clean environment systemd gives a service.
 * What this leaves to systemd itself (sandboxing, the watchdog, restarts) is checked by
 * `systemd-analyze verify` and test/cli/systemd-notify.test.ts.
 */

export interface ServiceStart {
  type: string;
  execStart: string[];
  environment: Record<string, string>;
  workingDirectory: string;
  user: string;
  group: string;
  umask: string;
  noNewPrivileges: boolean;
}

/** The [Service] settings that decide how the process starts. Only the unquoted forms canplug's unit uses. */
export function parseService(unitText: string): ServiceStart {
  const settings = new Map<string, string[]>();
  let section = '';
  for (const raw of unitText.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1];
      continue;
    }
    if (section !== 'Service') continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq);
    settings.set(key, [...(settings.get(key) ?? []), line.slice(eq + 1)]);
  }
  const one = (key: string, fallback?: string) => {
    const value = settings.get(key)?.at(-1) ?? fallback;
    if (value === undefined) throw new Error(`the unit has no ${key}=`);
    return value;
  };
  const environment = Object.fromEntries(
    (settings.get('Environment') ?? [])
      .flatMap((value) => value.split(/\s+/))
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return {
    type: one('Type', 'simple'),
    execStart: one('ExecStart').split(/\s+/),
    environment,
    workingDirectory: one('WorkingDirectory', '/'),
    user: one('User', 'root'),
    group: one('Group', one('User', 'root')),
    umask: one('UMask', '0022'),
    noNewPrivileges: one('NoNewPrivileges', 'no') === 'yes',
  };
}

/**
 * The command line (for a root shell) that starts the service as systemd would: `extra` is what a
 * drop-in's Environment= lines would add (a test's ports, say).
 */
export function serviceCommand(start: ServiceStart, extra: Record<string, string> = {}): string[] {
  const script = [
    `cd ${start.workingDirectory}`,
    `umask ${start.umask}`,
    `home=$(getent passwd ${start.user} | cut -d: -f6)`,
    `exec setpriv --reuid=${start.user} --regid=${start.group} --init-groups${start.noNewPrivileges ? ' --no-new-privs' : ''} ` +
      `env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME="$home" USER=${start.user} LOGNAME=${start.user} SHELL=/usr/sbin/nologin "$@"`,
  ].join('\n');
  const assignments = Object.entries({ ...start.environment, ...extra }).map(([k, v]) => `${k}=${v}`);
  return ['sh', '-c', script, 'sh', ...assignments, ...start.execStart];
}
