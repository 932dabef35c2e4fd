/**
 * The pi-budget case's peer: Node-RED 4 with a minimal raw SocketCAN -> MQTT flow (a SocketCAN input
 * node wired to an `mqtt out` node, one message per frame to `peer/frames`). Node-RED is installed
 * by the bench, from bench/peer/node-red/package-lock.json, into that directory (never into
 * canplug's own dependencies); its SocketCAN node is bench/peer/node-red/nodes/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MeasuredProcess } from '../cases/can-mqtt.js';
import type { Measurement } from './gateway-process.js';
import { prioritize } from './bench-case.js';

const PEER_DIR = fileURLToPath(new URL('../peer/node-red/', import.meta.url));
export const PEER_VERSION = (JSON.parse(readFileSync(join(PEER_DIR, 'package.json'), 'utf8')) as { dependencies: Record<string, string> })
  .dependencies['node-red'];
const RED_JS = join(PEER_DIR, 'node_modules', 'node-red', 'red.js');

/** npm ci into bench/peer/node-red once (about 40 s and 120 MB); nothing when it is there already. */
export async function installPeer(log: (line: string) => void): Promise<void> {
  if (existsSync(RED_JS)) return;
  log(`  installing Node-RED ${PEER_VERSION} into ${PEER_DIR} (npm ci)`);
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: PEER_DIR, encoding: 'utf8' });
  if (npm.status !== 0) throw new Error(`npm ci for the Node-RED peer failed: ${npm.stderr.slice(-2000)}`);
}

/** The flow: SocketCAN in -> mqtt out, QoS 0, to the broker at `mqttUrl`. */
function flow(iface: string, mqttUrl: string): unknown[] {
  const { hostname, port } = new URL(mqttUrl);
  return [
    { id: 'tab', type: 'tab', label: 'canplug peer' },
    { id: 'can-in', type: 'canplug-peer-socketcan', z: 'tab', interface: iface, wires: [['mqtt-out']] },
    { id: 'mqtt-out', type: 'mqtt out', z: 'tab', broker: 'broker', topic: 'peer/frames', qos: '0', retain: 'false', wires: [] },
    {
      id: 'broker',
      type: 'mqtt-broker',
      broker: hostname,
      port,
      clientid: 'canplug-peer',
      usetls: false,
      protocolVersion: '4',
      keepalive: '60',
      cleansession: true,
    },
  ];
}

/** CPU (user + system, ms) and RSS (bytes) of a process from /proc: the peer is not ours to instrument. */
function procStat(pid: number): { cpuMs: number; rss: number; peak: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  // utime and stime, fields 14 and 15 of stat(5), in clock ticks of 10 ms.
  return { cpuMs: (Number(fields[11]) + Number(fields[12])) * 10, rss: kb('VmRSS'), peak: kb('VmHWM') };
}

export class NodeRedPeer implements MeasuredProcess {
  private readonly userDir = mkdtempSync(join(tmpdir(), 'canplug-peer-'));
  private child?: ChildProcess;
  private markAt = { cpuMs: 0, at: 0, rss: 0 };

  get pid(): number {
    return this.child!.pid!;
  }

  /** Starts Node-RED with the flow and resolves once it says its flows started. */
  async start(iface: string, mqttUrl: string, timeoutMs = 180_000): Promise<void> {
    const settings = join(this.userDir, 'settings.cjs');
    writeFileSync(join(this.userDir, 'flows.json'), JSON.stringify(flow(iface, mqttUrl)));
    writeFileSync(
      settings,
      `module.exports = ${JSON.stringify({
        flowFile: 'flows.json',
        uiPort: 1880,
        uiHost: '127.0.0.1',
        httpAdminRoot: false,
        httpNodeRoot: false,
        nodesDir: join(PEER_DIR, 'nodes'),
        logging: { console: { level: 'info', metrics: false, audit: false } },
        telemetry: { enabled: false },
        diagnostics: { enabled: false },
        externalModules: { autoInstall: false },
      })};\n`,
    );
    const child = spawn(process.execPath, [RED_JS, '--userDir', this.userDir, '--settings', settings], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    prioritize(child.pid);
    let output = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`Node-RED did not start its flows within ${timeoutMs} ms:\n${output.slice(-3000)}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer) => {
        output += chunk;
        if (/Started flows/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`Node-RED exited (${code}):\n${output.slice(-3000)}`));
      });
    });
    // From here on its output is only read, so that a full pipe never blocks it.
    child.stdout!.resume();
    child.stderr!.resume();
  }

  async mark(): Promise<void> {
    const s = procStat(this.pid);
    // "5" resets the peak RSS (VmHWM) to the current RSS (proc(5), clear_refs).
    writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
    this.markAt = { cpuMs: s.cpuMs, at: performance.now(), rss: s.rss };
  }

  async measure(): Promise<Measurement> {
    const s = procStat(this.pid);
    const none = { count: 0, totalMs: 0, maxMs: 0, majorCount: 0, majorMaxMs: 0 };
    return {
      cpuMs: s.cpuMs - this.markAt.cpuMs,
      wallMs: performance.now() - this.markAt.at,
      rssStart: this.markAt.rss,
      rssPeak: s.peak,
      rssEnd: s.rss,
      maxRss: s.peak,
      // Not visible from outside the peer's process; its flow has no database nor sequence check.
      heapUsed: 0,
      readingsWritten: 0,
      framesReceived: 0,
      framesLost: 0,
      kernelDrops: 0,
      published: 0,
      loopDelayP99Ms: 0,
      loopDelayMaxMs: 0,
      gc: none,
      flushMaxMs: 0,
      involuntarySwitches: 0,
    };
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.userDir, { recursive: true, force: true });
  }
}
