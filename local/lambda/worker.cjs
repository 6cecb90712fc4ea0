'use strict';
/**
 * One Lambda "execution environment": a worker thread with the function's own environment variables, loading the
 * function's bundle once (the cold start) and handling one invocation at a time, like a Lambda sandbox.
 * Plain CommonJS so it needs no TypeScript loader.
 */
const { parentPort, workerData } = require('node:worker_threads');

let captured = [];
for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, encoding, callback) => {
    captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    if (typeof encoding === 'function') encoding();
    else if (typeof callback === 'function') callback();
    return true;
  };
}

let handler;
let initError;
const initStarted = process.hrtime.bigint();
try {
  const mod = require(workerData.file);
  handler = mod[workerData.handlerExport];
  if (typeof handler !== 'function') {
    initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${workerData.handlerFile}.${workerData.handlerExport} is undefined or not exported` };
  }
} catch (error) {
  initError = { errorType: 'Runtime.ImportModuleError', errorMessage: String(error && error.message ? error.message : error) };
}
const initMs = Number(process.hrtime.bigint() - initStarted) / 1e6;
const initLogs = captured.join('');
captured = [];

function serializeError(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name || 'Error',
      errorMessage: error.message,
      trace: String(error.stack || '').split('\n'),
    };
  }
  return { errorType: 'Error', errorMessage: typeof error === 'string' ? error : JSON.stringify(error) };
}

parentPort.postMessage({ type: 'ready', initMs, initLogs, initError });

parentPort.on('message', async (message) => {
  if (message.type !== 'invoke') return;
  captured = [];
  const { requestId, event, deadline } = message;
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: workerData.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: workerData.functionArn,
    memoryLimitInMB: String(workerData.memoryMb),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${workerData.functionName}`,
    logStreamName: `local/${workerData.instanceId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
  const started = process.hrtime.bigint();
  let reply;
  if (initError) {
    reply = { error: initError };
  } else {
    try {
      const payload = await new Promise((resolve, reject) => {
        // Support callback-style handlers as well as async ones.
        const maybe = handler(event, context, (err, value) => (err ? reject(err) : resolve(value)));
        if (maybe && typeof maybe.then === 'function') maybe.then(resolve, reject);
        else if (handler.length < 3) resolve(maybe);
      });
      reply = { payload: payload === undefined ? null : payload };
    } catch (error) {
      reply = { error: serializeError(error) };
    }
  }
  const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
  let payloadJson;
  try {
    payloadJson = reply.payload === undefined ? undefined : JSON.stringify(reply.payload);
  } catch (error) {
    reply = { error: { errorType: 'Runtime.MarshalError', errorMessage: 'Unable to marshal response: ' + error.message } };
  }
  parentPort.postMessage({ type: 'result', requestId, payloadJson, error: reply.error, logs: captured.join(''), durationMs });
  captured = [];
});
