/** `npm start`'s command line: what a newcomer can ask local mode for, and the words for a mistake. */
import { describe, expect, it } from 'vitest';
import { parseLocalModeOptions, UsageError } from '../../local/options.js';

const RANKER = 'arn:aws:iam::123456789012:role/page-ranker';

describe("npm start's options", () => {
  it('serves the demo with its feed on port 4000, keeping data under .work/local, by default', () => {
    expect(parseLocalModeOptions([], {})).toEqual({
      port: 4000,
      definitions: 'features/index.ts',
      demo: true,
      dataDirectory: '.work/local',
      fresh: false,
      principals: {},
      help: false,
    });
  });

  it('turns the demo feed off for your own definitions, and on request', () => {
    expect(parseLocalModeOptions(['--definitions', 'mine/index.ts'], {}).demo).toBe(false);
    expect(parseLocalModeOptions(['--no-demo'], {}).demo).toBe(false);
    expect(parseLocalModeOptions(['--definitions', './features/index.ts'], {}).demo).toBe(true);
  });

  it('takes one caller for unsigned requests and callers by access key', () => {
    const options = parseLocalModeOptions(['--principal', RANKER, '--principal', `AKIDEXAMPLE=${RANKER}`, '--fresh', '--data', '/tmp/x'], { PORT: '4300' });
    expect(options).toMatchObject({ port: 4300, caller: RANKER, principals: { AKIDEXAMPLE: RANKER }, fresh: true, dataDirectory: '/tmp/x' });
  });

  it('refuses a principal that is not a role ARN, an unknown flag and a bad PORT, with the usage', () => {
    expect(() => parseLocalModeOptions(['--principal', 'page-ranker'], {})).toThrow(/--principal page-ranker: give a role ARN/);
    expect(() => parseLocalModeOptions(['--fersh'], {})).toThrow(UsageError);
    expect(() => parseLocalModeOptions(['--fersh'], {})).toThrow(/--fersh[\s\S]*Usage: npm start/);
    expect(() => parseLocalModeOptions([], { PORT: 'http' })).toThrow('PORT=http is not a port number');
  });
});
