/**
 * cognito-local, assembled in-process (its own CLI only reads ./.cognito): state under <dir>/cognito, triggers sent
 * to the offline Lambda service, tokens issued by the URL the gateway verifies against, and messages (confirmation
 * and reset codes) delivered to an outbox that tests, the demo and the portal read instead of server logs.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import { join } from 'node:path';

const cognitoRequire = createRequire(require.resolve('cognito-local/package.json'));
/* eslint-disable @typescript-eslint/no-explicit-any */
const lib = (path: string): any => cognitoRequire(`./lib/${path}`);

export interface OutboxMessage {
  at: string;
  userPoolId?: string;
  username: string;
  destination: string;
  medium: 'EMAIL' | 'SMS';
  code?: string;
  subject?: string;
  body?: string;
}

export interface LocalCognito {
  url: string;
  outbox: OutboxMessage[];
  /** Latest code sent to an address (case-insensitive), or undefined. */
  latestCode(destination: string): string | undefined;
  close(): Promise<void>;
}

export interface LocalCognitoOptions {
  dir: string;
  host: string;
  port: number;
  region: string;
  lambdaEndpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Trigger name (PostConfirmation, PreSignUp, …) → function name the Lambda service knows. */
  triggers: Record<string, string>;
  log?: (line: string) => void;
}

/**
 * cognito-local's sign-in reads the user, awaits the PostAuthentication trigger, then saves that *old* copy with the new
 * refresh token — overwriting whatever changed meanwhile (e.g. the custom:apiid onboarding just wrote). Real Cognito
 * has no such lost update, so re-read the user right before appending the token. Patched once per process.
 */
export function patchStaleRefreshTokenWrite(UserPoolServiceImpl: any): void {
  const proto = UserPoolServiceImpl.prototype;
  if (proto.__tollgateFreshRefreshTokenWrite) return;
  proto.__tollgateFreshRefreshTokenWrite = true;
  proto.storeRefreshToken = async function storeRefreshToken(ctx: unknown, refreshToken: string, user: { Username: string }) {
    const fresh = (await this.getUserByUsername(ctx, user.Username)) ?? user;
    const refreshTokens = Array.isArray(fresh.RefreshTokens) ? fresh.RefreshTokens : [];
    await this.saveUser(ctx, { ...fresh, RefreshTokens: [...refreshTokens, refreshToken] });
  };
}

export async function startCognito(opts: LocalCognitoOptions): Promise<LocalCognito> {
  const root = join(opts.dir, 'cognito');
  const dataDirectory = join(root, 'db');
  mkdirSync(dataDirectory, { recursive: true });
  const outboxFile = join(root, 'outbox.jsonl');
  const outbox: OutboxMessage[] = [];

  process.env.AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE = '1'; // cognito-local still uses SDK v2
  const AWS = cognitoRequire('aws-sdk');
  const pino = cognitoRequire('pino');
  const services = lib('services');
  const { StormDBDataStoreFactory } = lib('services/dataStore/stormDb');
  const { CognitoServiceFactoryImpl } = lib('services/cognitoService');
  const { UserPoolServiceFactoryImpl, UserPoolServiceImpl } = lib('services/userPoolService');
  patchStaleRefreshTokenWrite(UserPoolServiceImpl);
  const { CryptoService } = lib('services/crypto');
  const { MessageDeliveryService } = lib('services/messageDelivery/messageDelivery');
  const { otp } = lib('services/otp');
  const { JwtTokenGenerator } = lib('services/tokenGenerator');
  const { Router } = lib('server/Router');
  const { createServer } = lib('server/server');
  const { DefaultConfig } = lib('server/config');

  const logger = pino({ level: process.env.COGNITO_LOCAL_DEBUG ? 'debug' : 'silent' });
  const config = {
    ...DefaultConfig,
    LambdaClient: { endpoint: opts.lambdaEndpoint, region: opts.region, credentials: opts.credentials, maxRetries: 0 },
    TriggerFunctions: opts.triggers,
    UserPoolDefaults: { UsernameAttributes: ['email'] },
    TokenConfig: { IssuerDomain: `http://${opts.host}:${opts.port}` },
    KMSConfig: { region: opts.region, credentials: opts.credentials },
    ServerConfig: { port: opts.port, hostname: opts.host, development: false, https: false },
  };
  const ctx = { logger };
  const clock = new services.DateClock();
  const dataStoreFactory = new StormDBDataStoreFactory(dataDirectory);
  const cognitoServiceFactory = new CognitoServiceFactoryImpl(dataDirectory, dataStoreFactory, new UserPoolServiceFactoryImpl(clock, dataStoreFactory));
  const cognitoClient = await cognitoServiceFactory.create(ctx, config.UserPoolDefaults);
  const triggers = new services.TriggersService(
    clock,
    cognitoClient,
    new services.LambdaService(config.TriggerFunctions, new AWS.Lambda(config.LambdaClient)),
    new CryptoService(config.KMSConfig),
  );

  const record = (medium: 'EMAIL' | 'SMS', user: { Username: string }, destination: string, message: { __code?: string; emailSubject?: string; emailMessage?: string; smsMessage?: string }) => {
    const entry: OutboxMessage = {
      at: new Date().toISOString(),
      username: user.Username,
      destination,
      medium,
      ...(message.__code ? { code: message.__code } : {}),
      ...(message.emailSubject ? { subject: message.emailSubject } : {}),
      ...(message.emailMessage ?? message.smsMessage ? { body: message.emailMessage ?? message.smsMessage } : {}),
    };
    outbox.push(entry);
    appendFileSync(outboxFile, `${JSON.stringify(entry)}\n`);
    opts.log?.(`outbox: ${medium.toLowerCase()} to ${destination}${entry.code ? ` (code ${entry.code})` : ''}`);
  };
  const sender = {
    sendEmail: async (_ctx: unknown, user: { Username: string }, destination: string, message: object) => record('EMAIL', user, destination, message),
    sendSms: async (_ctx: unknown, user: { Username: string }, destination: string, message: object) => record('SMS', user, destination, message),
  };

  const allServices = {
    clock,
    cognito: cognitoClient,
    config,
    messages: new services.MessagesService(triggers, new MessageDeliveryService(sender)),
    otp,
    tokenGenerator: new JwtTokenGenerator(clock, triggers, config.TokenConfig),
    triggers,
  };
  const server = createServer(Router(allServices), logger, config.ServerConfig, allServices);
  const httpServer: Server = await server.start();

  return {
    url: `http://${opts.host}:${opts.port}`,
    outbox,
    latestCode: (destination) =>
      [...outbox].reverse().find((m) => m.destination.toLowerCase() === destination.toLowerCase() && m.code)?.code,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.close(() => resolve());
        httpServer.closeAllConnections?.();
      }),
  };
}
