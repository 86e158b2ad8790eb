/**
 * The README's pipeline example runs as written from an application that depends on the package:
 * the snippet in README § Pipelines must equal examples/pipeline/readme/app.mjs, which runs here in a
 * fresh application directory whose node_modules/shmring is this package (no repository paths).
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const exampleDir = path.join(root, 'examples/pipeline/readme');
const appDirs: string[] = [];

afterAll(() => {
  for (const dir of appDirs) rmSync(dir, { recursive: true, force: true });
});

function readmeSnippet(): string {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Pipelines'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error('README § Pipelines has no ```js block');
  return match[1];
}

describe('README pipeline example', () => {
  it('is examples/pipeline/readme/app.mjs, character for character', () => {
    expect(readmeSnippet()).toBe(readFileSync(path.join(exampleDir, 'app.mjs'), 'utf8'));
  });

  it('runs from an application that depends on the package, with its Node process stage', async () => {
    const app = mkdtempSync(path.join(tmpdir(), 'shmring-readme-app-'));
    appDirs.push(app);
    cpSync(exampleDir, app, { recursive: true });
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module', dependencies: { shmring: '*', piscina: '*' } }));
    mkdirSync(path.join(app, 'node_modules'));
    symlinkSync(root, path.join(app, 'node_modules/shmring'), 'dir');
    symlinkSync(path.join(root, 'node_modules/piscina'), path.join(app, 'node_modules/piscina'), 'dir');
    const { stdout } = await promisify(execFile)(process.execPath, ['app.mjs'], { cwd: app });
    expect(stdout.split('\n')).toEqual([
      '3 APPLES',
      '5 PEARS',
      '2 PLUMS',
      'total 10',
      'parse: 3 in, 3 out; total: 3 in, 4 out; shout: 4 in, 4 out',
      '',
    ]);
  });
});
