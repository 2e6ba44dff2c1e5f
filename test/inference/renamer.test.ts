import { isNameIncluded, Renamer, renameTags } from '../../src/inference/renamer';

describe('Renamer (spec F.3)', () => {
  it('adds the suffix to selected names and drops the rest', () => {
    const r = Renamer.fromJson({ add_suffix: '_unet', save_classes: ['kiwi', 'bg'] });
    expect(r.rename('kiwi')).toBe('kiwi_unet');
    expect(r.rename('bg')).toBe('bg_unet');
    expect(r.rename('lemon')).toBeNull();
  });

  it('defaults to no suffix and "__all__"', () => {
    const r = Renamer.fromJson({});
    expect(r.rename('anything')).toBe('anything');
    expect(Renamer.fromJson(undefined).toJson()).toEqual({ add_suffix: '', save_classes: '__all__' });
  });

  it('lets save_names win over save_classes on read, and writes only save_classes', () => {
    const r = Renamer.fromJson({ add_suffix: 'x', save_classes: ['a'], save_names: ['b'] });
    expect(r.rename('a')).toBeNull();
    expect(r.rename('b')).toBe('bx');
    expect(r.toJson()).toEqual({ add_suffix: 'x', save_classes: ['b'] });
  });

  it('treats an empty list as "__all__", as the SDK does (`enabled or MATCH_ALL`)', () => {
    expect(new Renamer({ selection: [] }).rename('z')).toBe('z');
  });

  it('is_name_included: "__all__" matches any name, a list only its members', () => {
    expect(isNameIncluded('q', '__all__')).toBe(true);
    expect(isNameIncluded('q', ['p'])).toBe(false);
    expect(isNameIncluded('p', ['p'])).toBe(true);
  });

  it('renames tags, dropping unselected ones and keeping values and extra keys', () => {
    const r = Renamer.fromJson({ add_suffix: '_m', save_names: ['confidence', 'flag'] });
    const out = renameTags(
      [
        { name: 'confidence', value: 0.5, extra: {} },
        { name: 'flag', extra: { labelerLogin: 'bob' } },
        { name: 'other', value: 'x', extra: {} },
      ],
      r,
    );
    expect(out).toEqual([
      { name: 'confidence_m', value: 0.5, extra: {} },
      { name: 'flag_m', extra: { labelerLogin: 'bob' } },
    ]);
  });
});
