/** `tessera get --service fraud_v1 --entity user_id=u0001`: online features of entities, through the API. */
import type { Command } from 'commander';
import { withApi } from './command.js';
import { reach, resolveTarget, type TargetOptions } from './target.js';

interface GetOptions extends TargetOptions {
  readonly service?: string;
  readonly features?: string;
  readonly entity: string[];
  readonly json?: boolean;
}

/** `user_id=u0001,amount=12.5`: a row of join keys and request context; numbers become numbers. */
export function parseEntityRow(row: string): Record<string, string | number> {
  return Object.fromEntries(
    row.split(',').map((pair) => {
      const [key, ...rest] = pair.split('=');
      const value = rest.join('=');
      return [key, value !== '' && !Number.isNaN(Number(value)) && !/^[a-z]/i.test(value) ? Number(value) : value];
    }),
  );
}

export function register(program: Command): void {
  withApi(program.command('get'))
    .description('online features of entities, e.g. tessera get --service fraud_v1 --entity user_id=u0001')
    .option('--service <name>', 'a feature service')
    .option('--features <refs>', 'comma-separated view:feature references (instead of --service)')
    .requiredOption('--entity <key=value...>', 'an entity row: join keys and request context, comma-separated; repeat for more rows')
    .option('--json', 'print the API response as JSON')
    .action(async (options: GetOptions, command: Command) => {
      const target = await resolveTarget(options, process.env);
      if ((options.service === undefined) === (options.features === undefined)) {
        const services = await reach(target, () => target.client.catalog())
          .then((catalog) => ` (services on ${target.description}: ${catalog.featureServices.map((s) => s.name).join(', ') || 'none'})`)
          .catch(() => '');
        command.error(`error: give either --service NAME${services} or --features view:feature,…`);
      }
      const response = await reach(target, () =>
        target.client.getFeatures({
          ...(options.service ? { service: options.service } : { features: (options.features ?? '').split(',').filter(Boolean) }),
          entities: options.entity.map(parseEntityRow),
        }),
      );
      if (options.json) return console.log(JSON.stringify(response, null, 2));
      for (const result of response.results) {
        console.log(JSON.stringify(result.entity));
        for (const column of response.features) {
          const at = result.eventTimestamps[column];
          console.log(
            `  ${column.padEnd(40)} ${JSON.stringify(result.values[column]).padEnd(24)} ${result.status[column]}${at ? `  @ ${new Date(at).toISOString()}` : ''}`,
          );
        }
      }
    });
}
