export type { EngineName, SegmentationEngine } from './types';
export {
  DEPRECATED_ENGINE_NAMES,
  ENGINE_NAMES,
  ENGINE_ENV_VAR,
  engineFromEnvironment,
  parseEngineChoice,
} from './types';
export { chooseEngine } from './choose-engine';
export type { ChooseEngineOptions, EngineChoice } from './choose-engine';
export { OnnxEngine } from './onnx-engine';
export type { OnnxEngineOptions, OrtModule } from './onnx-engine';
export { TfjsEngine } from './tfjs-engine';
