/**
 * Bench §7's onboarding arithmetic (bench/scaled-onboarding.ts): the sign-up rate per slice of completions, and the
 * management API calls counted from the control plane's request log (the proof of zero CreateApiKey calls).
 */
import { countControlPlaneOperations, rateCurve, STEPS, type CustomerRun } from '../../../bench/scaled-onboarding.ts';

const run = (completedAtMs: number, stepMs = 1): CustomerRun => ({
  completedAtMs,
  ms: Object.fromEntries(STEPS.map((s) => [s, stepMs])) as CustomerRun['ms'],
});

describe('rateCurve', () => {
  it('slices completions in completion order and rates each slice from the end of the previous one', () => {
    // Out of order on purpose: the curve sorts by completion time.
    const runs = [run(4000, 40), run(1000, 10), run(2000, 20), run(3000, 30), run(9000, 90)];
    const curve = rateCurve(runs, 2);
    expect(curve.map((p) => p.done)).toEqual([2, 4, 5]);
    expect(curve.map((p) => p.atSeconds)).toEqual([2, 4, 9]);
    // 2 in the first 2 s, 2 in the next 2 s, 1 in the last 5 s.
    expect(curve.map((p) => p.perSecond)).toEqual([1, 1, 0.2]);
    expect(curve.map((p) => p.stepMedianMs.signUp)).toEqual([10, 30, 90]);
  });

  it('takes the steps to summarize (bench/cognito-scale.ts: its own calls)', () => {
    const curve = rateCurve([{ completedAtMs: 100, ms: { create: 7 } }, { completedAtMs: 200, ms: { create: 9 } }], 5, ['create']);
    expect(curve).toEqual([{ done: 2, atSeconds: 0.2, perSecond: 10, stepMedianMs: { create: 7 } }]);
  });

  it('leaves out customers whose onboarding did not complete', () => {
    const curve = rateCurve([run(Number.NaN), run(500), run(Number.NaN)], 10);
    expect(curve).toEqual([expect.objectContaining({ done: 1, atSeconds: 0.5, perSecond: 2 })]);
  });

  it('answers no points for no completions, and refuses a slice size that is not a whole number ≥ 1', () => {
    expect(rateCurve([], 5)).toEqual([]);
    expect(() => rateCurve([run(1)], 0)).toThrow('sliceSize');
    expect(() => rateCurve([run(1)], 1.5)).toThrow('sliceSize');
  });
});

describe('countControlPlaneOperations', () => {
  it('counts requests by operation from the control plane lines only', () => {
    const counts = countControlPlaneOperations([
      '[apigateway] POST /apikeys 201 CreateApiKey 3ms',
      '[apigateway] POST /apikeys 429 CreateApiKey 0ms',
      '[apigateway] GET /apikeys/abc 200 GetApiKey 1ms',
      '[AccountFunction] POST /apikeys 201 CreateApiKey 3ms',
      '[gateway] GET /v1/links 200 12ms',
    ]);
    expect(counts).toEqual({ CreateApiKey: 2, GetApiKey: 1 });
  });

  it('answers no operations when the control plane was not called', () => {
    expect(countControlPlaneOperations([])).toEqual({});
  });
});
