/**
 * Fault injection for tests: the listener asks `next(operation)` before running each operation (`CreateApiKey`,
 * `CreateUsagePlanKey`, … — AWS's operation names) and answers with that AWS error instead when it returns a name.
 */
export interface FaultHook {
  next(operation: string): string | undefined;
}

interface Fault {
  errorName: string;
  remaining: number;
}

/** Queue of faults per operation (`'*'` matches every operation), each for the next `times` calls. */
export class FaultInjector implements FaultHook {
  private readonly faults = new Map<string, Fault[]>();

  /** The next `times` calls of `operation` fail with `errorName` (e.g. `TooManyRequestsException`). */
  inject(operation: string, errorName: string, times = 1): this {
    const list = this.faults.get(operation) ?? [];
    list.push({ errorName, remaining: times });
    this.faults.set(operation, list);
    return this;
  }

  clear(): void {
    this.faults.clear();
  }

  next(operation: string): string | undefined {
    return this.take(operation) ?? this.take('*');
  }

  private take(operation: string): string | undefined {
    const list = this.faults.get(operation);
    const fault = list?.[0];
    if (!list || !fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) list.shift();
    if (list.length === 0) this.faults.delete(operation);
    return fault.errorName;
  }
}
