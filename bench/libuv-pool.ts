/**
 * Imported first by bench/infer.ts: sizes libuv's pool as the inference entry point does, before any other import
 * (loading sharp starts the pool).
 */
import { sizeLibuvThreadPool } from '../src/inference/thread-pool';

export const libuvThreads = sizeLibuvThreadPool();
