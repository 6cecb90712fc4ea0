'use strict';
/* global __filename */
/* eslint-disable no-console, @typescript-eslint/no-require-imports -- a standalone CommonJS script that prints its figures */
/**
 * The Lambda hop's wake-up cost alone (README's performance section): a short string main thread → worker → main
 * thread, 4,000 round trips per mechanism, twice: the worker woken by `postMessage` (what local/lambda uses), by a
 * `MessageChannel` port, or blocked in `Atomics.wait` on a SharedArrayBuffer and woken by `Atomics.notify` (it
 * answers by postMessage). Prints p50 / p99 / mean in microseconds. Run: `node bench/hop-latency.cjs` (not part of
 * `npm run bench`).
 */
const { Worker, isMainThread, parentPort, workerData, MessageChannel } = require('node:worker_threads');
const N = 4000;
const pct = (a, p) => a.sort((x, y) => x - y)[Math.floor(a.length * p)];
const now = () => Number(process.hrtime.bigint()) / 1e3;
if (isMainThread) {
  const once = (em) => new Promise((r) => em.once('message', r));
  async function measure(kind) {
    let w, send, recv;
    if (kind === 'postMessage') { w = new Worker(__filename, { workerData: { kind } }); send = (m) => w.postMessage(m); recv = () => once(w); }
    if (kind === 'MessageChannel') { const { port1, port2 } = new MessageChannel(); w = new Worker(__filename, { workerData: { kind, port: port2 }, transferList: [port2] }); send = (m) => port1.postMessage(m); recv = () => once(port1); w.port1 = port1; }
    if (kind === 'Atomics.wait in worker') { const sab = new SharedArrayBuffer(4); const a = new Int32Array(sab); w = new Worker(__filename, { workerData: { kind, sab } }); send = () => { Atomics.store(a, 0, 1); Atomics.notify(a, 0); }; recv = () => once(w); }
    await (kind === 'MessageChannel' ? recv() : once(w));
    const t = [];
    for (let i = 0; i < N; i++) { const s = now(); const p = recv(); send('x' + i); await p; t.push(now() - s); }
    await w.terminate(); if (w.port1) w.port1.close();
    return `${kind}: p50 ${pct(t, 0.5).toFixed(0)} µs, p99 ${pct(t, 0.99).toFixed(0)} µs, mean ${(t.reduce((a, b) => a + b, 0) / N).toFixed(0)} µs`;
  }
  (async () => { for (let r = 0; r < 2; r++) for (const k of ['postMessage', 'MessageChannel', 'Atomics.wait in worker']) console.log(await measure(k)); })();
} else {
  const { kind } = workerData;
  if (kind === 'postMessage') { parentPort.on('message', (m) => parentPort.postMessage('R' + m)); parentPort.postMessage('ready'); }
  if (kind === 'MessageChannel') { const p = workerData.port; p.on('message', (m) => p.postMessage('R' + m)); p.postMessage('ready'); }
  if (kind === 'Atomics.wait in worker') { const a = new Int32Array(workerData.sab); parentPort.postMessage('ready'); for (;;) { Atomics.wait(a, 0, 0); Atomics.store(a, 0, 0); parentPort.postMessage('R'); } }
}
