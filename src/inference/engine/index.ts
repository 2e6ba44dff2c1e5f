export type { EngineName, SegmentationEngine } from './types';
export { ENGINE_NAMES } from './types';
export { chooseEngine, parseEngineChoice, ENGINE_ENV_VAR } from './choose-engine';
export type { ChooseEngineOptions, EngineChoice } from './choose-engine';
export { OnnxEngine } from './onnx-engine';
export type { OnnxEngineOptions, OrtModule } from './onnx-engine';
export { TfjsEngine } from './tfjs-engine';
