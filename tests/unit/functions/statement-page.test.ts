/** Billing close, page by page (functions/statement/page.ts): who is billed, the close's state, one page. */
import {
  DEFAULT_PAGE_SIZE,
  DEFAULT_PAGES_PER_EXECUTION,
  closePage,
  isBilledFor,
  mapLimit,
  startClose,
  type ClosePageDeps,
  type CloseState,
  type ScannedAccount,
} from '../../../functions/statement/page.ts';

const NOVEMBER = { period: '2025-11', periodStart: '2025-11-01T00:00:00.000Z', periodEnd: '2025-12-01T00:00:00.000Z' };
const ENTRY_ID = '2025-12-01T00:00:00.000Z#STATEMENT#2025-11';

describe('isBilledFor', () => {
  it.each([
    [{ userId: 'a', status: 'ACTIVE' }, true],
    [{ userId: 'b', status: 'CLOSED', closedAt: '2025-12-01T00:00:00.000Z' }, true],
    [{ userId: 'c', status: 'CLOSED', closedAt: '2026-01-15T10:00:00.000Z' }, true],
    [{ userId: 'd', status: 'CLOSED', closedAt: '2025-11-30T23:59:59.999Z' }, false],
    [{ userId: 'e', status: 'CLOSED', closedAt: '2025-10-02T00:00:00.000Z' }, false],
    [{ userId: 'f', status: 'CLOSED' }, false],
    [{ userId: 'g', status: 'ONBOARDING' }, false],
    [{ userId: 'h', status: 'FAILED' }, false],
    [{ userId: 'i' }, false],
  ] as [ScannedAccount, boolean][])('%j → %s', (account, expected) => {
    expect(isBilledFor(account, NOVEMBER)).toBe(expected);
  });
});

describe('startClose', () => {
  it('starts the month before asOf with the default page size and pages per execution', () => {
    expect(startClose({}, '2025-12-01T00:15:00Z')).toEqual({
      ...NOVEMBER,
      pageSize: DEFAULT_PAGE_SIZE,
      pagesPerExecution: DEFAULT_PAGES_PER_EXECUTION,
      executionPages: 0,
      progress: { pages: 0, accounts: 0, billed: 0, written: 0, existing: 0, executions: 1 },
      next: 'PAGE',
    });
  });

  it('takes the period and the paging given', () => {
    expect(startClose({ period: '2024-02', pageSize: 3, pagesPerExecution: 7 }, '2025-12-01T00:15:00Z')).toMatchObject({
      period: '2024-02',
      periodStart: '2024-02-01T00:00:00.000Z',
      periodEnd: '2024-03-01T00:00:00.000Z',
      pageSize: 3,
      pagesPerExecution: 7,
    });
  });

  it('resumes a continuation where it stopped, counting one more execution and none of its pages yet', () => {
    const handedOver: CloseState = {
      ...NOVEMBER,
      pageSize: 100,
      pagesPerExecution: 500,
      startKey: { userId: 'u-500' },
      executionPages: 500,
      progress: { pages: 500, accounts: 50_000, billed: 49_000, written: 48_000, existing: 1_000, executions: 1 },
      next: 'CONTINUE',
    };

    expect(startClose({ close: handedOver }, '2025-12-01T03:00:00Z')).toEqual({
      ...handedOver,
      executionPages: 0,
      progress: { ...handedOver.progress, executions: 2 },
      next: 'PAGE',
    });
  });
});

describe('startClose refuses a period that has not ended', () => {
  it.each([
    ['the current month', { period: '2025-12' }],
    ['a future month', { period: '2027-03' }],
  ])('%s', (_label, input) => {
    expect(() => startClose(input, '2025-12-20T10:00:00Z')).toThrow(expect.objectContaining({ name: 'Billing.PeriodNotEnded' }) as Error);
  });

  it('and so does a continuation (its period is checked again)', () => {
    const state: CloseState = {
      period: '2025-12',
      periodStart: '2025-12-01T00:00:00.000Z',
      periodEnd: '2026-01-01T00:00:00.000Z',
      pageSize: 100,
      pagesPerExecution: 500,
      executionPages: 500,
      progress: { pages: 500, accounts: 1, billed: 1, written: 1, existing: 0, executions: 1 },
      next: 'CONTINUE',
    };
    expect(() => startClose({ close: state }, '2025-12-20T10:00:00Z')).toThrow(expect.objectContaining({ name: 'Billing.PeriodNotEnded' }) as Error);
  });
});

describe('closePage', () => {
  const state = (over: Partial<CloseState> = {}): CloseState => ({
    ...NOVEMBER,
    pageSize: 4,
    pagesPerExecution: 2,
    executionPages: 0,
    progress: { pages: 0, accounts: 0, billed: 0, written: 0, existing: 0, executions: 1 },
    next: 'PAGE',
    ...over,
  });

  function deps(page: { accounts: ScannedAccount[]; lastEvaluatedKey?: Record<string, string> }, existing: string[] = [], lost: string[] = []) {
    const calls = { scans: [] as unknown[], existing: [] as unknown[], writes: [] as string[] };
    const d: ClosePageDeps = {
      scanAccounts: (limit, startKey) => {
        calls.scans.push({ limit, startKey });
        return Promise.resolve(page);
      },
      existingStatements: (userIds, entryId) => {
        calls.existing.push({ userIds, entryId });
        return Promise.resolve(new Set(existing));
      },
      writeStatement: (account) => {
        calls.writes.push(account.userId);
        return Promise.resolve(!lost.includes(account.userId)); // a concurrent run wrote it first
      },
      concurrency: 2,
    };
    return { d, calls };
  }

  it('writes the statements of billed accounts that have none, and moves the cursor', async () => {
    const { d, calls } = deps(
      {
        accounts: [
          { userId: 'a', status: 'ACTIVE' },
          { userId: 'b', status: 'ACTIVE' },
          { userId: 'c', status: 'FAILED' },
          { userId: 'd', status: 'ACTIVE' },
        ],
        lastEvaluatedKey: { userId: 'd' },
      },
      ['b'],
      ['d'],
    );

    const next = await closePage(d, state({ startKey: { userId: 'x' } }), ENTRY_ID);

    expect(calls.scans).toEqual([{ limit: 4, startKey: { userId: 'x' } }]);
    expect(calls.existing).toEqual([{ userIds: ['a', 'b', 'd'], entryId: ENTRY_ID }]);
    expect(calls.writes).toEqual(['a', 'd']);
    expect(next).toEqual(
      state({
        startKey: { userId: 'd' },
        executionPages: 1,
        progress: { pages: 1, accounts: 4, billed: 3, written: 1, existing: 2, executions: 1 },
        next: 'PAGE',
      }),
    );
  });

  it('asks to continue as a new execution after pagesPerExecution pages', async () => {
    const { d } = deps({ accounts: [{ userId: 'a', status: 'ACTIVE' }], lastEvaluatedKey: { userId: 'a' } });

    await expect(closePage(d, state({ executionPages: 1 }), ENTRY_ID)).resolves.toMatchObject({ executionPages: 2, next: 'CONTINUE', startKey: { userId: 'a' } });
  });

  it('is done at the last page, and drops the cursor', async () => {
    const { d } = deps({ accounts: [] });

    const next = await closePage(d, state({ startKey: { userId: 'z' }, executionPages: 1 }), ENTRY_ID);

    expect(next.next).toBe('DONE');
    expect(next).not.toHaveProperty('startKey');
  });

  it('reads nothing more and writes nothing when no account of the page is billed', async () => {
    const { d, calls } = deps({ accounts: [{ userId: 'c', status: 'ONBOARDING' }], lastEvaluatedKey: { userId: 'c' } });

    await closePage(d, state(), ENTRY_ID);

    expect(calls.existing).toEqual([]);
    expect(calls.writes).toEqual([]);
  });

  it('lets a failed write fail the page (the workflow retries it; nothing is written twice)', async () => {
    const { d } = deps({ accounts: [{ userId: 'a', status: 'ACTIVE' }] });
    d.writeStatement = () => Promise.reject(Object.assign(new Error('Rate exceeded'), { name: 'TooManyRequestsException' }));

    await expect(closePage(d, state(), ENTRY_ID)).rejects.toMatchObject({ name: 'TooManyRequestsException' });
  });
});

describe('mapLimit', () => {
  it('keeps the order of results and never runs more than the limit at once', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running += 1;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n));
      running -= 1;
      return n * 10;
    });

    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it('returns at once for no items', async () => {
    await expect(mapLimit([], 4, () => Promise.reject(new Error('not called')))).resolves.toEqual([]);
  });
});
