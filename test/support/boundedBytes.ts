/**
 * A buffer that throws on any read of a byte outside `[start, end)`. A record or field read where
 * it lies in a larger buffer (a reader's chunk) is surrounded by other records' bytes or stale
 * ones, which the readers and checks must never read, if only because a scan running on through
 * them could cost a whole buffer per row.
 */
export function readableOnlyWithin(data: Buffer, start: number, end: number): Buffer {
  return new Proxy(data, {
    get(target, key) {
      if (typeof key === 'string' && /^\d+$/.test(key) && (Number(key) < start || Number(key) >= end)) {
        throw new Error(`read byte ${key} outside [${start}, ${end})`);
      }
      const value = Reflect.get(target, key) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
