/**
 * Runs `task` over `items` with at most `limit` calls in flight. A Lambda's burst of hundreds of
 * parallel requests opens as many connections at once; a bound keeps the socket pool warm and
 * the SDK's retry quota for real faults.
 */
export async function forEachInFlight<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await task(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
