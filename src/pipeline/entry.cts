/**
 * piscina's entry file for pipeline stage workers: CommonJS on purpose (issue 10.8).
 *
 * piscina loads its entry with require() and falls back to import() only if that throws. On Node 20
 * (20.19+, where require() of an ES module is on by default), a worker terminated while require() is
 * instantiating an ES module takes the whole PROCESS down: "FATAL ERROR: v8::Module::IsGraphAsync
 * ... must be used on an instantiated module" (a V8 CHECK, so no JS error and no exit handler).
 * Pipelines terminate stage workers on failure and abort, sometimes while a worker is still
 * loading; that was the suite's "Worker exited unexpectedly" flake. Terminating a worker during
 * import() is safe (Node 20: 1200 of 1200 terminations mid-load survived), so this file, which require() loads without touching the ES
 * module loader, reaches the ES module src/pipeline/worker.ts through import().
 */
const loading = import('./worker.js');
// A failed load is reported by the first task that awaits it, not as an unhandled rejection that
// would end the worker before any task could say which stage failed.
loading.catch(() => undefined);

type RunStageWorker = Awaited<typeof loading>['default'];

const runStageWorker = async (task: Parameters<RunStageWorker>[0]): ReturnType<RunStageWorker> => (await loading).default(task);

export = runStageWorker;
