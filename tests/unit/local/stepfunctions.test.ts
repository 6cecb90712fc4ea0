/**
 * Step Functions ↔ SDK v3 translation of the offline Task bridge: member names (PascalCase parameters and
 * results, map keys untouched), values (blobs, timestamps) and the error names Step Functions reports.
 */
import * as apigateway from '@aws-sdk/client-api-gateway';
import * as cognito from '@aws-sdk/client-cognito-identity-provider';
import * as dynamodb from '@aws-sdk/client-dynamodb';

import * as lambda from '@aws-sdk/client-lambda';
import {
  awsSdkTaskError,
  describeTask,
  DYNAMODB_OPTIMIZED,
  errorNamesFor,
  isModeledError,
  LAMBDA_OPTIMIZED,
  modeledErrors,
  optimizedTaskError,
  parseResource,
  SDK_SERVICES,
  sdkMetadata,
  TaskBridge,
} from '../../../local/stepfunctions/bridge.ts';
import { TaskFaultInjector } from '../../../local/stepfunctions/faults.ts';
import { commandSchemas, fromSdkOutput, sfnMemberName, sfnServicePrefix, toSdkInput } from '../../../local/stepfunctions/casing.ts';
import { StatesRuntimeError, TaskError } from '../../../local/stepfunctions/errors.ts';

const meta = (httpStatusCode: number, requestId = 'req-1') => ({ httpStatusCode, requestId });

describe('sfnMemberName', () => {
  it.each([
    ['name', 'Name'],
    ['usagePlanId', 'UsagePlanId'],
    ['keyId', 'KeyId'],
    ['op', 'Op'],
    ['TableName', 'TableName'],
    ['S', 'S'],
    ['SS', 'Ss'],
    ['BOOL', 'Bool'],
    ['NULL', 'Nul'],
    ['SSEDescription', 'SseDescription'],
    ['MFAOptions', 'MfaOptions'],
  ])('%s → %s', (member, expected) => {
    expect(sfnMemberName(member)).toBe(expected);
  });
});

describe('sfnServicePrefix (AWS SDK for Java v2 client names)', () => {
  it.each([
    ['API Gateway', 'ApiGateway'],
    ['Cognito Identity Provider', 'CognitoIdentityProvider'],
    ['DynamoDB', 'DynamoDb'],
    ['SFN', 'Sfn'],
    ['Lambda', 'Lambda'],
    ['ACM PCA', 'AcmPca'],
    ['S3', 'S3'],
    ['EC2', 'Ec2'],
    ['Secrets Manager', 'SecretsManager'],
  ])('%s → %s', (serviceId, expected) => {
    expect(sfnServicePrefix(serviceId)).toBe(expected);
  });

  it('matches the serviceId each SDK client declares', () => {
    const client = new apigateway.APIGatewayClient({ region: 'us-east-1' });
    expect(sfnServicePrefix(client.config.serviceId)).toBe(SDK_SERVICES.apigateway!.prefix);
    client.destroy();
  });
});

describe('toSdkInput (aws-sdk integrations)', () => {
  const createApiKey = commandSchemas(apigateway.CreateApiKeyCommand as never);
  const options = { naming: 'sfn' as const, resource: 'aws-sdk:apigateway:createApiKey' };

  it('renames structure members to the camelCase API Gateway model and keeps map keys', () => {
    const input = toSdkInput(
      {
        Name: 'sub-123',
        Enabled: true,
        GenerateDistinctId: true,
        StageKeys: [{ RestApiId: 'abc', StageName: 'prod' }],
        Tags: { 'tollgate:userId': 'sub-123', Name: 'not-a-member' },
      },
      createApiKey.input,
      options,
    );
    expect(input).toEqual({
      name: 'sub-123',
      enabled: true,
      generateDistinctId: true,
      stageKeys: [{ restApiId: 'abc', stageName: 'prod' }],
      tags: { 'tollgate:userId': 'sub-123', Name: 'not-a-member' },
    });
  });

  it('renames members inside lists of structures (PatchOperations[].Op)', () => {
    const { input } = commandSchemas(apigateway.UpdateUsagePlanCommand as never);
    expect(
      toSdkInput(
        { UsagePlanId: 'plan-1', PatchOperations: [{ Op: 'replace', Path: '/throttle/rateLimit', Value: '10' }] },
        input,
        { naming: 'sfn', resource: 'aws-sdk:apigateway:updateUsagePlan' },
      ),
    ).toEqual({ usagePlanId: 'plan-1', patchOperations: [{ op: 'replace', path: '/throttle/rateLimit', value: '10' }] });
  });

  it('keeps PascalCase models (Cognito) as they are', () => {
    const { input } = commandSchemas(cognito.AdminUpdateUserAttributesCommand as never);
    const params = { UserPoolId: 'pool', Username: 'u', UserAttributes: [{ Name: 'custom:apiid', Value: 'k1' }] };
    expect(toSdkInput(params, input, { naming: 'sfn', resource: 'aws-sdk:cognitoidentityprovider:adminUpdateUserAttributes' })).toEqual(
      params,
    );
  });

  it('rejects unknown and wrongly cased fields with States.Runtime', () => {
    expect(() => toSdkInput({ name: 'x' }, createApiKey.input, options)).toThrow(StatesRuntimeError);
    expect(() => toSdkInput({ Nme: 'x' }, createApiKey.input, options)).toThrow(/The field 'Nme' is not supported/);
    expect(() => toSdkInput({ StageKeys: 'nope' }, createApiKey.input, options)).toThrow(/must be a JSON array/);
    expect(() => toSdkInput([1], createApiKey.input, options)).toThrow(/must be a JSON object/);
  });

  it('spells DynamoDB attribute types the Step Functions way (Bool, Nul, Ss) for aws-sdk:dynamodb', () => {
    const { input, output } = commandSchemas(dynamodb.PutItemCommand as never);
    const sdk = toSdkInput(
      {
        TableName: 't',
        Item: { pk: { S: 'a' }, flag: { Bool: true }, gone: { Nul: true }, tags: { Ss: ['x', 'y'] }, nested: { M: { n: { N: '1' } } } },
        ReturnValues: 'ALL_OLD',
      },
      input,
      { naming: 'sfn', resource: 'aws-sdk:dynamodb:putItem' },
    );
    expect(sdk).toEqual({
      TableName: 't',
      Item: { pk: { S: 'a' }, flag: { BOOL: true }, gone: { NULL: true }, tags: { SS: ['x', 'y'] }, nested: { M: { n: { N: '1' } } } },
      ReturnValues: 'ALL_OLD',
    });
    expect(fromSdkOutput({ Attributes: { flag: { BOOL: false } }, $metadata: meta(200) }, output, 'sfn')).toEqual({
      Attributes: { flag: { Bool: false } },
    });
  });

  it('converts blobs: base64 inside DynamoDB AttributeValues, UTF-8 text/JSON elsewhere', () => {
    const put = commandSchemas(dynamodb.PutItemCommand as never);
    const sdk = toSdkInput({ TableName: 't', Item: { b: { B: Buffer.from('hi').toString('base64') } } }, put.input, {
      naming: 'sdk',
      resource: 'dynamodb:putItem',
    }) as { Item: { b: { B: Uint8Array } } };
    expect(Buffer.from(sdk.Item.b.B).toString()).toBe('hi');
    const get = commandSchemas(dynamodb.GetItemCommand as never);
    expect(fromSdkOutput({ Item: { b: { B: new Uint8Array([104, 105]) } } }, get.output, 'sdk')).toEqual({
      Item: { b: { B: 'aGk=' } },
    });
  });

  it('accepts the exact API names for optimized integrations and rejects PascalCase variants there', () => {
    const put = commandSchemas(dynamodb.PutItemCommand as never);
    const opts = { naming: 'sdk' as const, resource: 'dynamodb:putItem' };
    expect(toSdkInput({ TableName: 't', Item: { a: { BOOL: true } } }, put.input, opts)).toEqual({ TableName: 't', Item: { a: { BOOL: true } } });
    expect(() => toSdkInput({ TableName: 't', Item: { a: { Bool: true } } }, put.input, opts)).toThrow(StatesRuntimeError);
  });
});

describe('fromSdkOutput', () => {
  it('returns createApiKey PascalCase, drops $metadata, keeps tag keys and renders dates as ISO-8601', () => {
    const { output } = commandSchemas(apigateway.CreateApiKeyCommand as never);
    const result = fromSdkOutput(
      {
        id: 'k1',
        value: 'secret',
        name: 'sub-123',
        enabled: true,
        createdDate: new Date('2024-01-02T03:04:05.000Z'),
        stageKeys: [],
        tags: { 'tollgate:userId': 'sub-123' },
        $metadata: meta(201),
      },
      output,
      'sfn',
    );
    expect(result).toEqual({
      Id: 'k1',
      Value: 'secret',
      Name: 'sub-123',
      Enabled: true,
      CreatedDate: '2024-01-02T03:04:05.000Z',
      StageKeys: [],
      Tags: { 'tollgate:userId': 'sub-123' },
    });
  });

  it('renames members of structures inside lists (getUsagePlans items)', () => {
    const { output } = commandSchemas(apigateway.GetUsagePlansCommand as never);
    expect(
      fromSdkOutput({ items: [{ id: 'p1', name: 'FREE', throttle: { rateLimit: 1, burstLimit: 2 } }], position: 'x' }, output, 'sfn'),
    ).toEqual({ Items: [{ Id: 'p1', Name: 'FREE', Throttle: { RateLimit: 1, BurstLimit: 2 } }], Position: 'x' });
  });
});

describe('error names', () => {
  const apigw = SDK_SERVICES.apigateway!;

  it('names modeled aws-sdk errors <Service>.<Error> with the Exception suffix', () => {
    const err = awsSdkTaskError(new apigateway.ConflictException({ message: 'exists', $metadata: meta(409, 'r-9') }), apigw);
    expect(err).toBeInstanceOf(TaskError);
    expect(err.name).toBe('ApiGateway.ConflictException');
    expect(err.message).toBe('exists (Service: ApiGateway, Status Code: 409, Request ID: r-9)');
    const cognitoErr = awsSdkTaskError(
      new cognito.UserNotFoundException({ message: 'User does not exist.', $metadata: meta(400) }),
      SDK_SERVICES.cognitoidentityprovider!,
    );
    expect(cognitoErr.name).toBe('CognitoIdentityProvider.UserNotFoundException');
    const ddbErr = awsSdkTaskError(
      new dynamodb.ResourceNotFoundException({ message: 'Requested resource not found', $metadata: meta(400) }),
      SDK_SERVICES.dynamodb!,
    );
    expect(ddbErr.name).toBe('DynamoDb.ResourceNotFoundException');
  });

  it('names undeclared service errors <Service>.<Service>Exception and transport failures SdkClientException', () => {
    const weird = new apigateway.APIGatewayServiceException({ name: 'WeirdError', $fault: 'client', message: 'odd', $metadata: meta(400) });
    expect(isModeledError(weird, apigw.module, apigw.baseException)).toBe(false);
    expect(awsSdkTaskError(weird, apigw).name).toBe('ApiGateway.ApiGatewayException');
    const network = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { $metadata: {} });
    expect(awsSdkTaskError(network, apigw)).toMatchObject({ name: 'ApiGateway.SdkClientException', message: network.message });
  });

  it('names optimized DynamoDB errors DynamoDB.<Error> (Java SDK v1 style)', () => {
    const spec = {
      prefix: 'DynamoDB',
      genericException: 'AmazonDynamoDBException',
      serviceName: 'AmazonDynamoDBv2',
      module: dynamodb as unknown as Record<string, unknown>,
      baseException: 'DynamoDBServiceException',
    };
    const conditional = optimizedTaskError(
      new dynamodb.ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: meta(400, 'ddb-1') }),
      spec,
    );
    expect(conditional.name).toBe('DynamoDB.ConditionalCheckFailedException');
    expect(conditional.message).toBe(
      'The conditional request failed (Service: AmazonDynamoDBv2; Status Code: 400; Error Code: ConditionalCheckFailedException; Request ID: ddb-1; Proxy: null)',
    );
    expect(optimizedTaskError(new dynamodb.InternalServerError({ message: 'x', $metadata: meta(500) }), spec).name).toBe(
      'DynamoDB.InternalServerErrorException',
    );
    const validation = new dynamodb.DynamoDBServiceException({ name: 'ValidationException', $fault: 'client', message: 'bad', $metadata: meta(400) });
    expect(optimizedTaskError(validation, spec).name).toBe('DynamoDB.AmazonDynamoDBException');
  });

  it('emits for every modeled error a name in errorNamesFor, and never DynamoDB.RequestLimitExceeded', () => {
    type Ctor = new (o: { message: string; $metadata: object }) => Error;
    const raise = (module: Record<string, unknown>, name: string) => new (module[name] as Ctor)({ message: 'm', $metadata: meta(400) });
    const ddbNames = errorNamesFor('arn:aws:states:::dynamodb:putItem');
    for (const e of modeledErrors(DYNAMODB_OPTIMIZED.module, DYNAMODB_OPTIMIZED.baseException)) {
      expect(ddbNames).toContain(optimizedTaskError(raise(dynamodb, e), DYNAMODB_OPTIMIZED).name);
    }
    expect(optimizedTaskError(new dynamodb.RequestLimitExceeded({ message: 'm', $metadata: meta(400) }), DYNAMODB_OPTIMIZED).name).toBe(
      'DynamoDB.RequestLimitExceededException',
    );
    expect(ddbNames.has('DynamoDB.RequestLimitExceeded')).toBe(false);

    const invokeNames = errorNamesFor('arn:aws:states:::lambda:invoke');
    for (const e of modeledErrors(LAMBDA_OPTIMIZED.module, LAMBDA_OPTIMIZED.baseException)) {
      expect(invokeNames).toContain(optimizedTaskError(raise(lambda, e), LAMBDA_OPTIMIZED).name);
    }
    for (const n of ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException']) {
      expect(invokeNames).toContain(n);
    }

    for (const [service, svc] of Object.entries(SDK_SERVICES)) {
      const names = errorNamesFor(`arn:aws:states:::aws-sdk:${service}:anyAction`);
      for (const e of modeledErrors(svc.module, svc.baseException)) expect(names).toContain(awsSdkTaskError(raise(svc.module, e), svc).name);
      expect(names).toContain(`${svc.prefix}.${svc.prefix}Exception`);
    }
    expect(errorNamesFor('arn:aws:states:::aws-sdk:dynamodb:scan')).toContain('DynamoDb.RequestLimitExceededException');
    expect(errorNamesFor('arn:aws:states:::aws-sdk:apigateway:getApiKeys')).not.toContain('DynamoDB.ThrottlingException');
  });

  it('refuses to inject into a service task a fault Step Functions never emits for it', async () => {
    const faults = new TaskFaultInjector()
      .inject('MarkActive', 'DynamoDB.RequestLimitExceeded')
      .inject('MarkActive', 'DynamoDB.RequestLimitExceededException');
    const bridge = new TaskBridge({
      endpoints: { dynamodb: 'http://127.0.0.1:9' },
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      stepFunctions: { startExecution: () => Promise.reject(new Error('unused')), waitForExecution: () => Promise.reject(new Error('unused')) },
      faults,
    });
    const call = { stateName: 'MarkActive', stateMachine: 'm', executionArn: 'arn:aws:states:us-east-1:0:execution:m:x' };
    try {
      await expect(bridge.invoke('arn:aws:states:::dynamodb:updateItem', {}, undefined, call)).rejects.toMatchObject({
        name: 'States.Runtime',
        message: expect.stringContaining("'DynamoDB.RequestLimitExceeded' is not an error Step Functions emits"),
      });
      await expect(bridge.invoke('arn:aws:states:::dynamodb:updateItem', {}, undefined, call)).rejects.toMatchObject({
        name: 'DynamoDB.RequestLimitExceededException',
      });
    } finally {
      bridge.destroy();
    }
  });

  it('adds SdkHttpMetadata / SdkResponseMetadata like optimized integrations', () => {
    expect(sdkMetadata({ $metadata: meta(200, 'abc') })).toEqual({
      SdkHttpMetadata: { AllHttpHeaders: {}, HttpHeaders: {}, HttpStatusCode: 200 },
      SdkResponseMetadata: { RequestId: 'abc' },
    });
  });
});

describe('resources', () => {
  it.each([
    ['arn:aws:states:::aws-sdk:apigateway:createApiKey', { kind: 'aws-sdk', service: 'apigateway', action: 'createApiKey', pattern: '' }],
    ['arn:aws:states:::dynamodb:putItem', { kind: 'dynamodb', action: 'putItem', pattern: '' }],
    ['arn:aws:states:::lambda:invoke', { kind: 'lambda', action: 'invoke', pattern: '' }],
    ['arn:aws:states:::states:startExecution.sync:2', { kind: 'states', action: 'startExecution', pattern: '.sync:2' }],
    ['arn:aws:lambda:us-east-1:000000000000:function:Worker', { kind: 'lambda-function', functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:Worker' }],
    ['arn:aws:states:::sns:publish', { kind: 'unsupported' }],
  ])('parses %s', (arn, expected) => {
    expect(parseResource(arn)).toEqual(expected);
  });

  it('gives history resourceType/resource as Step Functions does', () => {
    expect(describeTask('arn:aws:states:::aws-sdk:apigateway:createApiKey')).toMatchObject({ resourceType: 'aws-sdk:apigateway', resource: 'createApiKey' });
    expect(describeTask('arn:aws:states:::dynamodb:putItem')).toMatchObject({ resourceType: 'dynamodb', resource: 'putItem' });
    expect(describeTask('arn:aws:states:::lambda:invoke')).toMatchObject({ resourceType: 'lambda', resource: 'invoke', legacyLambda: false });
  });
});
