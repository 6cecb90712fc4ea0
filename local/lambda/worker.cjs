'use strict';
/**
 * One Lambda "execution environment": a worker thread with the function's own environment variables, loading the
 * function's bundle once (the cold start) and handling one invocation at a time, like a Lambda sandbox.
 * Plain CommonJS so it needs no TypeScript loader.
 *
 * Messages (pool.ts owns the protocol). Per invocation, plain strings — one copy across the thread boundary instead of
 * a structured clone walking an object (the request path's largest cost before):
 *   from the parent: `<requestId>\n<deadline epoch ms>\n<eventJson>`  an invocation
 *   `L<text>`                             what the function wrote, when the shared buffer (below) is full
 *   `R<requestId>\n<ms>\n<n>\n<output><payloadJson>`  the invocation's result and the handler's run time (ms),
 *                                                after the n characters the function wrote
 *   `E<requestId>\n<ms>\n<n>\n<output><errorJson>`    the invocation's error, likewise
 * Rare ones, objects:
 *   { type: 'ready', initMs, initError? }  once, when the bundle is loaded (or failed to)
 *   { type: 'fatal', requestId?, error }   uncaught exception / unhandled rejection: the parent answers the
 *                                          invocation with it and replaces us
 * Error shapes follow the Node.js runtime interface client (aws-lambda-nodejs-runtime-interface-client, Errors.js).
 */
const util = require('node:util');
const { performance } = require('node:perf_hooks');
const { pathToFileURL } = require('node:url');
const { parentPort, workerData } = require('node:worker_threads');

/** Lambda's limit for a synchronous response (the figure its error message names). */
const MAX_RESPONSE_BYTES = 6291556;

let currentRequestId;
let crashed = false;

// Everything the function writes goes into the buffer it shares with the parent (workerData.logBuffer: a 4-byte
// length, then UTF-8 text) as it is written, and is sent with the invocation's result: one message per invocation,
// not one per write. The parent reads what is left there when the environment dies mid-invocation (timeout,
// process.exit, out of memory), so nothing is lost; a crash sends it first. Concurrent environments never mix output.
const logLength = new Int32Array(workerData.logBuffer, 0, 1);
const logBytes = new Uint8Array(workerData.logBuffer, 4);

/** Empties the shared buffer: its text. */
function takeOutput() {
  const length = Atomics.load(logLength, 0);
  if (length === 0) return '';
  const text = Buffer.from(logBytes.subarray(0, length)).toString('utf8');
  Atomics.store(logLength, 0, 0);
  return text;
}

function sendOutput() {
  const text = takeOutput();
  if (text) parentPort.postMessage(`L${text}`);
}

function appendOutput(text) {
  const bytes = Buffer.from(text, 'utf8');
  let used = Atomics.load(logLength, 0);
  if (used + bytes.length > logBytes.length) {
    sendOutput();
    used = 0;
  }
  if (bytes.length > logBytes.length) {
    parentPort.postMessage(`L${text}`);
    return;
  }
  logBytes.set(bytes, used);
  Atomics.store(logLength, 0, used + bytes.length);
}

for (const stream of [process.stdout, process.stderr]) {
  stream.write = (chunk, encoding, callback) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (text) appendOutput(text);
    if (typeof encoding === 'function') encoding();
    else if (typeof callback === 'function') callback();
    return true;
  };
}

function isErrorLike(value) {
  return (
    util.types.isNativeError(value) ||
    (value && typeof value.name === 'string' && typeof value.message === 'string' && typeof value.stack === 'string')
  );
}

/** Errors.toRapidResponse: what Lambda puts in the invocation's error payload. */
function toRapidResponse(error) {
  try {
    if (isErrorLike(error)) {
      return { errorType: String(error.name), errorMessage: String(error.message), trace: String(error.stack).split('\n') };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

/** UserFunction.load's classification of a failed module load. */
function toInitError(error) {
  const code = error && error.code;
  if (error instanceof SyntaxError) {
    return { ...toRapidResponse(error), errorType: 'Runtime.UserCodeSyntaxError', errorMessage: String(error) };
  }
  if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
    return { ...toRapidResponse(error), errorType: 'Runtime.ImportModuleError', errorMessage: String(error) };
  }
  return toRapidResponse(error);
}

function fatal(label, error) {
  if (crashed) return;
  crashed = true;
  process.stderr.write(`${label}\t${JSON.stringify(error)}\n`);
  sendOutput();
  parentPort.postMessage({ type: 'fatal', requestId: currentRequestId, error });
}

process.on('uncaughtException', (error) => fatal('Uncaught Exception', toRapidResponse(error)));
process.on('unhandledRejection', (reason) => {
  const trace = isErrorLike(reason) ? String(reason.stack).split('\n') : [];
  fatal('Unhandled Promise Rejection', { errorType: 'Runtime.UnhandledPromiseRejection', errorMessage: String(reason), trace });
});

let handler;
let initError;

async function init() {
  const started = process.hrtime.bigint();
  const fullHandler = `${workerData.handlerFile}.${workerData.handlerExport}`;
  try {
    const mod = workerData.file.endsWith('.mjs') ? await import(pathToFileURL(workerData.file).href) : require(workerData.file);
    const resolved = String(workerData.handlerExport)
      .split('.')
      .reduce((value, key) => (value === undefined || value === null ? undefined : value[key]), mod);
    if (resolved === undefined || resolved === null) {
      initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${fullHandler} is undefined or not exported` };
    } else if (typeof resolved !== 'function') {
      initError = { errorType: 'Runtime.HandlerNotFound', errorMessage: `${fullHandler} is not a function` };
    } else {
      handler = resolved;
    }
  } catch (error) {
    initError = toInitError(error);
  }
  const initMs = Number(process.hrtime.bigint() - started) / 1e6;
  parentPort.postMessage({ type: 'ready', initMs, ...(initError ? { initError } : {}) });
}

function runHandler(event, context) {
  return new Promise((resolve, reject) => {
    const callback = (err, value) => (err !== undefined && err !== null ? reject(err) : resolve(value));
    // The legacy context methods end the invocation like the callback does.
    context.done = callback;
    context.succeed = (value) => resolve(value);
    context.fail = (err) => reject(err);
    const returned = handler(event, context, callback);
    if (returned && typeof returned.then === 'function') returned.then(resolve, reject);
    // A synchronous handler without a callback parameter answers with what it returned.
    else if (handler.length < 3) resolve(returned);
  });
}

async function invoke(requestId, deadline, eventJson) {
  if (initError) return { error: initError, durationMs: 0 };
  const event = JSON.parse(eventJson);
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
  };
  let payload;
  let error;
  const started = performance.now();
  try {
    payload = await runHandler(event, context);
  } catch (thrown) {
    error = toRapidResponse(thrown);
  }
  const durationMs = performance.now() - started;
  let payloadJson;
  if (!error) {
    try {
      payloadJson = JSON.stringify(payload === undefined ? null : payload);
      if (payloadJson === undefined) payloadJson = 'null'; // a function or a symbol
      const bytes = Buffer.byteLength(payloadJson);
      if (bytes > MAX_RESPONSE_BYTES) {
        payloadJson = undefined;
        error = {
          errorType: 'Function.ResponseSizeTooLarge',
          errorMessage: `Response payload size (${bytes} bytes) exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
        };
      }
    } catch (thrown) {
      payloadJson = undefined;
      error = { errorType: 'Runtime.MarshalError', errorMessage: `Unable to marshal response: ${thrown && thrown.message ? thrown.message : String(thrown)}` };
    }
  }
  return { payloadJson, error, durationMs };
}

parentPort.on('message', (message) => {
  if (typeof message !== 'string' || crashed) return;
  const first = message.indexOf('\n');
  const second = message.indexOf('\n', first + 1);
  if (first === -1 || second === -1) return;
  const requestId = message.slice(0, first);
  currentRequestId = requestId;
  invoke(requestId, Number(message.slice(first + 1, second)), message.slice(second + 1)).then(
    ({ payloadJson, error, durationMs }) => {
      if (crashed) return;
      const output = takeOutput();
      const head = `${requestId}\n${durationMs.toFixed(3)}\n${output.length}\n${output}`;
      parentPort.postMessage(error ? `E${head}${JSON.stringify(error)}` : `R${head}${payloadJson}`);
      currentRequestId = undefined;
    },
    (thrown) => fatal('Runtime Error', toRapidResponse(thrown)),
  );
});

void init();
