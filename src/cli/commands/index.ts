/**
 * The registry of `sly-nn` commands, in the order `sly-nn --help` lists them. To add a command, write one file
 * in this folder exporting a CliCommand, and add it here.
 */

import type { CliCommand } from '../command';
import { checkRuntimeCommand } from './check-runtime';
import { evalDavisCommand } from './eval-davis';
import { exportOnnxCommand } from './export-onnx';
import { initWeightsCommand } from './init-weights';
import { mergeResultsCommand } from './merge-results';
import { packCommand } from './pack';
import { segmentCommand } from './segment';
import { selftestCommand } from './selftest';
import { serveCommand } from './serve';
import { trackCommand } from './track';
import { unpackCommand } from './unpack';
import { validateConfigCommand } from './validate-config';

export const COMMANDS: readonly CliCommand[] = [
  packCommand,
  unpackCommand,
  validateConfigCommand,
  initWeightsCommand,
  exportOnnxCommand,
  segmentCommand,
  mergeResultsCommand,
  trackCommand,
  evalDavisCommand,
  serveCommand,
  selftestCommand,
  checkRuntimeCommand,
];
