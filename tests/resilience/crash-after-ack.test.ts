/**
 * Acknowledged means saved: `npm start` (a child process, temp dir, free ports) takes a burst of control-plane
 * writes — CreateApiKey, CreateUsagePlanKey, UpdateApiKey (disable), DeleteApiKey, UpdateUsage, TagResource — and is
 * killed with SIGKILL right after the last 2xx. Started again on the same directory, every acknowledged write is
 * there, and the deleted key stays deleted.
 */
import {
  APIGatewayClient,
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  GetApiKeyCommand,
  GetTagsCommand,
  GetUsageCommand,
  GetUsagePlanKeysCommand,
  GetUsagePlansCommand,
  TagResourceCommand,
  UpdateApiKeyCommand,
  UpdateUsageCommand,
} from '@aws-sdk/client-api-gateway';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../local/types.ts';
import { startTestStack } from '../../local/harness/stack.ts';
import { startNpmStart } from './helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'tollgate-crash-'));
let child: ChildProcess | undefined;

afterAll(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

it('every 2xx control-plane write survives kill -9 of npm start', async () => {
  const started = await startNpmStart(dir);
  child = started.proc;
  // Many attempts: the control plane enforces AWS's limits (CreateApiKey 5/s), and a 429 is not an acknowledgement.
  const api = new APIGatewayClient({ region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, endpoint: started.endpoint('apigateway'), maxAttempts: 20 });
  const plans = await api.send(new GetUsagePlansCommand({}));
  const free = plans.items?.find((p) => p.name?.endsWith('free'));
  expect(free?.id).toBeDefined();
  const planId = free?.id as string;

  const created = await Promise.all(
    Array.from({ length: 8 }, (_, i) => api.send(new CreateApiKeyCommand({ name: `crash-${i}`, enabled: true }))),
  );
  const ids = created.map((k) => k.id as string);
  await Promise.all(ids.map((keyId) => api.send(new CreateUsagePlanKeyCommand({ usagePlanId: planId, keyId, keyType: 'API_KEY' }))));
  const [disabled, deleted, granted, tagged] = ids as [string, string, string, string];
  await Promise.all([
    api.send(new UpdateApiKeyCommand({ apiKey: disabled, patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }] })),
    api.send(new DeleteApiKeyCommand({ apiKey: deleted })),
    api.send(new UpdateUsageCommand({ usagePlanId: planId, keyId: granted, patchOperations: [{ op: 'replace', path: '/remaining', value: '7' }] })),
    api.send(new TagResourceCommand({ resourceArn: `arn:aws:apigateway:${LOCAL_REGION}::/apikeys/${tagged}`, tags: { kept: 'yes' } })),
  ]);
  // The last 2xx has arrived: kill at once, no chance to flush.
  started.proc.kill('SIGKILL');
  await new Promise((done) => started.proc.once('exit', done));
  api.destroy();

  const t = await startTestStack({ dir });
  try {
    const again = t.clients.apigateway;
    const members = await again.send(new GetUsagePlanKeysCommand({ usagePlanId: planId, limit: 500 }));
    const memberIds = new Set((members.items ?? []).map((k) => k.id));
    for (const id of ids) {
      if (id === deleted) {
        await expect(again.send(new GetApiKeyCommand({ apiKey: id }))).rejects.toMatchObject({ name: 'NotFoundException' });
        expect(memberIds.has(id)).toBe(false);
        continue;
      }
      const key = await again.send(new GetApiKeyCommand({ apiKey: id }));
      expect(key.enabled).toBe(id !== disabled);
      expect(memberIds.has(id)).toBe(true);
    }
    const tags = await again.send(new GetTagsCommand({ resourceArn: `arn:aws:apigateway:${LOCAL_REGION}::/apikeys/${tagged}` }));
    expect(tags.tags).toEqual({ kept: 'yes' });
    const today = new Date().toISOString().slice(0, 10);
    const usage = await again.send(new GetUsageCommand({ usagePlanId: planId, keyId: granted, startDate: today, endDate: today }));
    expect(usage.items?.[granted]?.[0]?.[1]).toBe(7);
  } finally {
    await t.close();
  }
}, 120_000);
