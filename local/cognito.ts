/**
 * cognito-local, assembled in-process (its own CLI only reads ./.cognito): state under <dir>/cognito, triggers sent
 * to the offline Lambda service, tokens issued by the URL the gateway verifies against, and messages (confirmation
 * and reset codes) delivered to an outbox that tests, the demo and the portal read instead of server logs. Two small
 * patches bring it closer to Cognito: a sign-in no longer overwrites attributes written meanwhile
 * (patchStaleRefreshTokenWrite), and app clients may only write their WriteAttributes (enforceClientWriteAttributes).
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

/** The app client fields the write check needs (cognito-local's stored AppClient). */
interface AppClientRecord {
  ClientId: string;
  UserPoolId: string;
  WriteAttributes?: string[];
}

export interface WriteAttributesDeps {
  getAppClient(ctx: unknown, clientId: string): Promise<AppClientRecord | null | undefined>;
  /** cognito-local's NotAuthorizedError: its server answers 400 `{"__type":"NotAuthorizedException","message":…}`. */
  NotAuthorizedError: new (message?: string) => Error;
  /** The access token's claims if cognito-local signed it (RS256, its key) and it has not expired; throws otherwise. */
  verifyToken(token: string): Record<string, unknown>;
}

type Target = (ctx: unknown, req: any) => Promise<unknown>;
export type CognitoRouter = (target: string) => Target;

export const UNAUTHORIZED_ATTRIBUTE = 'A client attempted to write unauthorized attribute';

/**
 * cognito-local ignores an app client's WriteAttributes: any client may write any attribute, so a customer could point
 * `custom:apiid` at someone else's API key — with UpdateUserAttributes and their own access token, or in SignUp's
 * UserAttributes. Cognito refuses both: NotAuthorizedException "A client attempted to write unauthorized attribute"
 * (400) when an attribute is not in the client's WriteAttributes (checked only when the client sets WriteAttributes;
 * without it, the client may write the pool's attributes). This wraps those two targets of cognito-local's router:
 *
 * - SignUp: the client is the request's ClientId (an unknown one is left to cognito-local's own answer).
 * - UpdateUserAttributes: the client is the access token's `client_id`. cognito-local only *decodes* that token, so a
 *   forged one could name any client and any user; it is verified first — signed by cognito-local's key, not expired,
 *   `token_use` access, issued by the client's pool — or refused with NotAuthorizedException "Invalid Access Token",
 *   as Cognito does.
 *
 * The request is refused whole: nothing is written, not even the attributes the client may write. Tested end to end
 * in tests/abuse/auth-matrix.test.ts.
 */
export function enforceClientWriteAttributes(router: CognitoRouter, deps: WriteAttributesDeps): CognitoRouter {
  const checkWritable = (client: AppClientRecord, attributes: unknown): void => {
    const allowed = client.WriteAttributes;
    if (!Array.isArray(allowed) || allowed.length === 0 || !Array.isArray(attributes)) return;
    for (const attribute of attributes as { Name?: unknown }[]) {
      if (!allowed.includes(String(attribute?.Name))) throw new deps.NotAuthorizedError(UNAUTHORIZED_ATTRIBUTE);
    }
  };

  const guards: Record<string, (ctx: unknown, req: any) => Promise<void>> = {
    SignUp: async (ctx, req) => {
      if (typeof req?.ClientId !== 'string') return;
      const client = await deps.getAppClient(ctx, req.ClientId);
      if (client) checkWritable(client, req.UserAttributes);
    },
    UpdateUserAttributes: async (ctx, req) => {
      const invalid = () => new deps.NotAuthorizedError('Invalid Access Token');
      let claims: Record<string, unknown>;
      try {
        claims = deps.verifyToken(String(req?.AccessToken ?? ''));
      } catch (error) {
        if ((error as { name?: string } | null)?.name === 'TokenExpiredError') throw new deps.NotAuthorizedError('Access Token has expired');
        throw invalid();
      }
      if (claims.token_use !== 'access' || typeof claims.client_id !== 'string') throw invalid();
      const client = await deps.getAppClient(ctx, claims.client_id);
      if (!client || claims.iss === undefined || !String(claims.iss).endsWith(`/${client.UserPoolId}`)) throw invalid();
      checkWritable(client, req.UserAttributes);
    },
  };

  return (target) => {
    const route = router(target);
    const guard = guards[target];
    if (guard === undefined) return route;
    return async (ctx, req) => {
      await guard(ctx, req);
      return route(ctx, req);
    };
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
  const jwt = cognitoRequire('jsonwebtoken');
  const publicKey = (cognitoRequire('./lib/keys/cognitoLocal.public.json') as { pem: string }).pem;
  const router = enforceClientWriteAttributes(Router(allServices), {
    getAppClient: (c, clientId) => cognitoClient.getAppClient(c, clientId),
    NotAuthorizedError: lib('errors').NotAuthorizedError,
    verifyToken: (token) => jwt.verify(token, publicKey, { algorithms: ['RS256'] }) as Record<string, unknown>,
  });
  const server = createServer(router, logger, config.ServerConfig, allServices);
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
