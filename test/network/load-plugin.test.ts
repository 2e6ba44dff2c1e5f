import * as path from 'node:path';
import { TaskError } from '../../src/errors';
import { loadNetworkPlugin, networkShapeProblems } from '../../src/network/load-plugin';

const UNET_PATH = path.resolve(__dirname, '../../plugin/unet');

describe('network plugin loading (spec G.1: the plugin is chosen by the entry point)', () => {
  test('the U-Net module loads by path and has the interface', () => {
    const net = loadNetworkPlugin(UNET_PATH);
    expect(net.name).toBe('unet');
    expect(networkShapeProblems(net)).toEqual([]);
  });

  test('a module without a network export is a config error naming the file', () => {
    const file = path.resolve(__dirname, '../../src/errors');
    expect(() => loadNetworkPlugin(file)).toThrow(TaskError);
    expect(() => loadNetworkPlugin(file)).toThrow(
      /errors: not a network plugin: the module has no "network" export/,
    );
  });

  test('a missing module is a config error naming the path', () => {
    expect(() => loadNetworkPlugin('/nowhere/plugin-x')).toThrow(
      /\/nowhere\/plugin-x: cannot load the network plugin/,
    );
  });

  test('every missing part is listed', () => {
    const problems = networkShapeProblems({ name: 'x', build: () => null, headLayerNames: [] });
    expect(problems).toEqual([
      '"task" is not a non-empty string',
      '"inputs" is not a non-empty array of {name, channels}',
      '"outputs" is not a non-empty array of names',
      '"parseSettings" is not a function',
      '"buildHead" is not a function',
      '"settingsSchema" is missing',
      '"defaults" is missing',
      '"headLayerNames" is not a non-empty array',
      '"preprocessing" needs mean and std of 3 numbers each',
    ]);
  });

  test('a network must declare its task and named inputs with whole channel counts', async () => {
    const { network } = await import('../../plugin/unet');
    expect(networkShapeProblems(network)).toEqual([]);
    expect(networkShapeProblems({ ...network, task: '' })).toEqual(['"task" is not a non-empty string']);
    const bad = [[], [{ name: 'image', channels: 0 }], [{ name: 'image', channels: 2.5 }], [{ channels: 3 }]];
    for (const inputs of bad) {
      expect(networkShapeProblems({ ...network, inputs })).toEqual([
        '"inputs" is not a non-empty array of {name, channels}',
      ]);
    }
    expect(networkShapeProblems({ ...network, outputs: [] })).toEqual([
      '"outputs" is not a non-empty array of names',
    ]);
  });
});
