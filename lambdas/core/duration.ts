/** Durations in definitions are written as `<integer><unit>` (`90s`, `5m`, `1h`, `7d`) and held as milliseconds. */
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export type Duration = `${number}${'s' | 'm' | 'h' | 'd'}`;

/** Parses a duration; returns undefined for anything that is not `<positive integer><s|m|h|d>`. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_MS[match[2] as string] as number;
  return amount > 0 ? amount * unit : undefined;
}

/** The shortest exact spelling of a millisecond duration (`3600000` → `1h`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's']) {
    const size = UNIT_MS[unit] as number;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
