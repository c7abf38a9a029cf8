// Runs one export of the exec guest in a worker thread, so that the test can give up on a call
// that spins forever (`worker.terminate()` stops a wasm loop; a timer on the main thread cannot).
import { parentPort, workerData } from 'node:worker_threads';
import { module, reactor } from './wasi.mjs';

const g = reactor(module(workerData.dir, 'exec'));
const start = performance.now();
const result = g.exports[workerData.export](...workerData.args);
parentPort.postMessage({ result, ms: performance.now() - start });
