/**
 * `serve`: the model server (src/serve/): the Supervisely serving endpoints, clicks and tracking over HTTP, and
 * the web page at `/`. SIGTERM or SIGINT drains it: new requests get 503, the ones in flight finish, running
 * jobs stop, then the process exits 0.
 */
import { stopRequests } from '../../protocol/stop';
import { type CliCommand, parseOptions, UsageError } from '../command';

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${value}"`);
  return n;
}

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'Serve checkpoints over HTTP (Supervisely serving API, clicks, tracking) with a web page at /',
  usage:
    'sly-nn serve --checkpoint DIR [--checkpoint DIR ...] [--port 8000] [--host 0.0.0.0] ' +
    '[--engine onnxruntime|tfjs] [--batch-size 8] [--queue 64] [--adapt-steps N]',
  help: [
    'One process serves a semantic-segmentation checkpoint, a click checkpoint and a tracker checkpoint (one',
    'of each at most); each is recognised by its config.json. Open http://HOST:PORT/ for the page.',
    '',
    '  --checkpoint DIR   a checkpoint folder (results/0000000N of a training task); repeat for each model',
    '  --port N           default 8000 (0: any free port, printed)',
    '  --host H           default 0.0.0.0',
    '  --engine E         onnxruntime (default when it loads) or tfjs',
    '  --batch-size N     the largest network batch of the semantic model (requests are batched together)',
    '  --queue N          images admitted to the semantic model at once; more get 503 + Retry-After',
    "  --adapt-steps N    the tracker trains N steps on each tracking's first frame and masks before it tracks",
    '                     (test-time adaptation: better on objects only texture tells apart; 20 steps take',
    '                     about 15 s on 2 cores, so it suits long trackings); default 0',
    '',
    'Example: sly-nn serve --checkpoint results/00000005 --checkpoint clicks/00000003 --port 8000',
  ].join('\n'),
  async run(args, io) {
    const { values, positionals } = parseOptions(
      args,
      {
        checkpoint: { type: 'string', multiple: true },
        port: { type: 'string' },
        host: { type: 'string' },
        engine: { type: 'string' },
        'batch-size': { type: 'string' },
        queue: { type: 'string' },
        'adapt-steps': { type: 'string' },
      },
      true,
    );
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const checkpoints = values.checkpoint ?? [];
    if (checkpoints.length === 0) throw new UsageError('give at least one --checkpoint DIR');
    const engine = values.engine;
    if (engine !== undefined && engine !== 'onnxruntime' && engine !== 'tfjs') {
      throw new UsageError(`--engine must be onnxruntime or tfjs, got "${engine}"`);
    }
    const port = positiveInt(values.port, 'port', 8000);
    const batchSize = positiveInt(values['batch-size'], 'batch-size', 8);
    const queue = positiveInt(values.queue, 'queue', 64);
    if (batchSize < 1 || queue < 1) throw new UsageError('--batch-size and --queue are at least 1');
    const adaptSteps = positiveInt(values['adapt-steps'], 'adapt-steps', 0);
    // One libuv thread per core for decoding uploads, as the inference task sizes it (before any file or image
    // call starts the pool).
    const { sizeLibuvThreadPool } = await import('../../inference/thread-pool');
    sizeLibuvThreadPool();
    const { defaultLogger } = await import('../../protocol/logger');
    const { loadServedModels, closeServedModels } = await import('../../serve/models');
    const { createModelServer } = await import('../../serve/server');
    const logger = defaultLogger();
    const models = await loadServedModels({
      checkpoints,
      ...(engine !== undefined ? { engine } : {}),
      batchSize,
      trackerAdaptSteps: adaptSteps,
      // Seconds before a tracking's first frame: in the log, at most every 5 steps.
      onAdaptStep: (step, steps) => {
        if (step % 5 === 0 || step === steps) logger.info('Adapting the tracker', { step, steps });
      },
    });
    const server = await createModelServer({ models, logger, limits: { semanticQueue: queue } });
    const address = await server.listen(port, values.host ?? '0.0.0.0');
    const served = Object.entries(models)
      .filter(([, m]) => m !== undefined)
      .map(([task, m]) => `${task} (${(m as { dir: string }).dir})`);
    logger.info('Serving', { address, models: served });
    io.out(`Serving ${served.join(', ')} at ${address} (page: ${address}/)`);
    let stopListening = (): void => undefined;
    await new Promise<void>((resolve) => {
      const stop = (signal: string): void => {
        stopListening();
        io.out(`${signal}: finishing requests in flight, then stopping`);
        logger.info('Stopping', { signal });
        void server
          .close()
          .then(() => closeServedModels(models))
          .then(resolve, (e: unknown) => {
            logger.error('stopping failed', { error: String(e) });
            resolve();
          });
      };
      // The executable (cli/main.ts) turns the signal into a stop request; a second signal ends the process.
      stopListening = stopRequests.listen(stop);
    });
    io.out('Stopped');
    return 0;
  },
};
