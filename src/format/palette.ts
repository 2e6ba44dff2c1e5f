/** The PASCAL VOC colour map DAVIS masks use (`utils.color_map`): id 1 (128,0,0), 2 (0,128,0), 3 (128,128,0)... */
export function vocPalette(): Uint8Array {
  const out = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let j = 0; j < 8; j++) {
      r |= (c & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
      c >>= 3;
    }
    out.set([r, g, b], i * 3);
  }
  return out;
}
