/**
 * `canplug sim`: simulated sockets on a real or virtual CAN interface, behaving like the firmware
 * (heartbeats, reports, command replies, the humidity interlock). Tests an installation end to end
 * without sockets: run the daemon on can0/vcan0 and this beside it.
 */
import type { Writable } from 'node:stream';
import { type Command, Option } from 'commander';
import type { SimSocket } from '../can/sim-socket.js';
import type { SimSeedSocket } from '../can/sim-seed-socket.js';
import type { Transport } from '../can/transport.js';
import { createDemoSockets } from '../can/demo-sockets.js';
import { silentLogger } from '../log.js';
import { busTransport, CliError, configOption, EXIT, EXIT_CODES_HELP, parseInteger, parseNodeList, readConfig } from './common.js';

export interface SimOptions {
  protocol: 'v1' | 'seed';
  reportPeriodMs: number;
  /** Starting humidity, %RH (at or over the limit the interlock trips at once). */
  humidity?: number;
  humidityLimit: number;
  hysteresis: number;
  /** Random walk of humidity and load, like the demo. */
  wander?: boolean;
}

export interface RunningSim {
  sockets: SimSocket[];
  seed: SimSeedSocket | undefined;
  stop(): Promise<void>;
}

/** Starts `transport` and one simulated socket per node on it (the legacy profile has one socket). */
export async function runSimSockets(transport: Transport, nodes: number[], options: SimOptions): Promise<RunningSim> {
  const send = (frame: Parameters<Transport['send']>[0]) => void transport.send(frame);
  const { sockets, seed } = createDemoSockets({
    protocol: options.protocol,
    nodes,
    reportPeriodMs: options.reportPeriodMs,
    humidityLimit: options.humidityLimit,
    hysteresis: options.hysteresis,
    wander: options.wander ?? false,
    humidity: options.humidity,
  });
  const onFrame = (frame: Parameters<Transport['send']>[0]) => {
    for (const socket of sockets) socket.receive(frame);
    seed?.receive(frame);
  };
  transport.on('frame', onFrame);
  await transport.start();
  for (const socket of sockets) socket.start(send);
  seed?.start(send);
  return {
    sockets,
    seed,
    stop: async () => {
      for (const socket of sockets) socket.stop();
      seed?.stop();
      transport.off('frame', onFrame);
      await transport.stop();
    },
  };
}

export function addSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run simulated sockets on a real or virtual CAN interface (test an installation without hardware)')
    .option('-i, --interface <name>', 'CAN interface, e.g. vcan0 or can0 (default: can.interface from the config)')
    .option('--nodes <ids>', 'node ids to simulate, e.g. 1,2,5-8 (default: can.sim.nodes from the config)')
    .addOption(
      new Option('-p, --protocol <protocol>', 'v1 sockets or the legacy seed socket (default: can.protocol)').choices(['v1', 'seed']),
    )
    .option('--report-period <ms>', 'report period (default: can.sim.report_period_ms)')
    .option('--humidity <percent>', 'starting humidity, %RH (at or over the limit the sockets trip)')
    .option('--wander', 'let humidity and load drift, like the demo')
    .addHelpText('after', `\nRuns until Ctrl-C. The sockets answer commands and trip like the firmware does.\n${EXIT_CODES_HELP}`)
    .action(
      async (
        opts: { interface?: string; nodes?: string; protocol?: 'v1' | 'seed'; reportPeriod?: string; humidity?: string; wander?: boolean },
        command: Command,
      ) => {
        const { config } = readConfig(configOption(command));
        const nodes = opts.nodes === undefined ? config.can.sim.nodes : parseNodeList(opts.nodes);
        const protocol = opts.protocol ?? config.can.protocol;
        if (protocol === 'seed' && opts.nodes !== undefined)
          throw new CliError('the legacy seed profile has one socket and no node ids; drop --nodes', EXIT.usage);
        const reportPeriodMs =
          opts.reportPeriod === undefined
            ? config.can.sim.report_period_ms
            : parseInteger('--report-period', opts.reportPeriod, 100, 60000);
        const humidity = opts.humidity === undefined ? undefined : parseInteger('--humidity', opts.humidity, 0, 100);
        const transport = await busTransport(config, opts.interface, silentLogger, 'monitor');
        const sim = await runSimSockets(transport, nodes, {
          protocol,
          reportPeriodMs,
          humidity,
          humidityLimit: config.safety.humidity_limit,
          hysteresis: config.safety.humidity_hysteresis,
          wander: opts.wander,
        });
        const out: Writable = process.stdout;
        out.write(
          `simulating ${protocol === 'seed' ? 'the legacy seed socket' : `nodes ${nodes.join(', ')}`} on ${opts.interface ?? config.can.interface}; Ctrl-C stops\n`,
        );
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await sim.stop();
        out.write('stopped\n');
      },
    );
}
