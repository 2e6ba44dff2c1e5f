/**
 * Strict base64 (RFC 4648, `+/`, `=` padding). Node's decoder silently skips bad characters, which would turn
 * a damaged payload into a misleading zlib or PNG error; this one names the problem.
 */

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Returns the bytes, or throws an Error with a short reason (callers add the file and field). */
export function decodeBase64Strict(text: string): Buffer {
  // Python's b64decode tolerates line breaks in the payload; so do we.
  const compact = text.replace(/[\r\n]/g, '');
  if (!BASE64.test(compact) || compact.length % 4 !== 0) {
    throw new Error('not valid base64 (RFC 4648: A-Z a-z 0-9 + /, "=" padding, length a multiple of 4)');
  }
  return Buffer.from(compact, 'base64');
}
