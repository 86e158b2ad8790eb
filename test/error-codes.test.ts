/**
 * The README's error table is the list of codes a caller can meet (issue 11.9): it must name exactly
 * the codes of the RingErrorCode union, and that union must hold every code the TypeScript sides and
 * the native core and addon throw. Parsed from the sources, so a code added in one place and not the
 * others fails here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const codesIn = (text: string) => new Set(text.match(/\bERR_[A-Z_]+\b/g) ?? []);
const sorted = (set: Set<string>) => [...set].sort();

function unionCodes(): Set<string> {
  const source = read('src/errors.ts');
  const union = /export type RingErrorCode =([\s\S]*?);/.exec(source);
  if (!union) throw new Error('RingErrorCode union not found in src/errors.ts');
  return new Set([...union[1].matchAll(/'(ERR_[A-Z_]+)'/g)].map((match) => match[1]));
}

function readmeTableCodes(): Set<string> {
  const readme = read('README.md');
  const section = /\n## Errors\n([\s\S]*?)\n## /.exec(readme);
  if (!section) throw new Error('README has no "## Errors" section');
  const rows = section[1].split('\n').filter((line) => line.startsWith('| `Ring'));
  expect(rows.length).toBeGreaterThan(3);
  return codesIn(rows.join('\n'));
}

describe('error codes', () => {
  it('the README error table lists exactly the RingErrorCode union', () => {
    expect(sorted(readmeTableCodes())).toEqual(sorted(unionCodes()));
  });

  it('every code the ring sides and the native core/addon throw is in the union', () => {
    const sources = ['consumer', 'producer', 'side', 'header', 'file', 'native', 'parker'].map((name) => read(`src/${name}.ts`));
    for (const directory of ['native/src/core', 'native/src/addon', 'native/include/shmring']) {
      for (const name of readdirSync(join(root, directory))) sources.push(read(join(directory, name)));
    }
    const thrown = codesIn(sources.join('\n'));
    // Thrown only by the addon's internal class when constructed by hand, which the package never exports.
    thrown.delete('ERR_ILLEGAL_CONSTRUCTOR');
    const union = unionCodes();
    expect(sorted(thrown).filter((code) => !union.has(code))).toEqual([]);
  });
});
