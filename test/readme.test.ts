/**
 * Every ```ts block of the README type-checks against the package's public entry points, resolved the
 * way a user's import resolves them ('shmring' through package.json "exports" to dist/*.d.ts, so the
 * build must be current), and every block fenced ```ts run runs in a fresh app that installed the
 * package (a node_modules/shmring link), printing what its `// comment` after console.log says.
 * Names a snippet uses without declaring (the `bytes` it writes, a `signal`) are declared once below
 * as globals; a snippet's own declarations shadow them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTestFiles, tempDir } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

interface Snippet {
  line: number;
  code: string;
  run: boolean;
}

function snippets(): Snippet[] {
  const found: Snippet[] = [];
  const fence = /^```ts( run)?[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let match = fence.exec(readme); match; match = fence.exec(readme)) {
    found.push({ line: readme.slice(0, match.index).split('\n').length, code: match[2]!, run: match[1] !== undefined });
  }
  return found;
}

const GLOBALS = `
declare const bytes: Uint8Array;
declare const header: Uint8Array;
declare const signal: AbortSignal;
declare const handler: import('shmring').RecordHandler;
declare const workerData: SharedArrayBuffer;
declare const records: Iterable<Uint8Array>;
declare const path: string;
declare const fs: typeof import('node:fs');
declare const producer: import('shmring').RingProducer;
declare const consumer: import('shmring').RingConsumer;
declare const transform: import('node:stream').Transform;
declare const sink: import('node:stream').Writable;
`;

/** Type-checks the snippets as modules placed (in memory only) at the package root. */
function typeErrors(list: Snippet[]): string[] {
  const files = new Map<string, string>();
  list.forEach((snippet, index) => files.set(path.join(root, `readme-snippet-${index}.ts`), snippet.code));
  files.set(path.join(root, 'readme-globals.d.ts'), GLOBALS);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.es2024.sharedmemory.d.ts'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    noUnusedLocals: false,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (file) => files.has(file) || fileExists.call(host, file);
  host.readFile = (file) => files.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, ...rest) => {
    const text = files.get(file);
    return text !== undefined ? ts.createSourceFile(file, text, language) : getSourceFile.call(host, file, language, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((diagnostic) => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
    if (!diagnostic.file) return message;
    const index = Number(/readme-snippet-(\d+)\.ts$/.exec(diagnostic.file.fileName)?.[1] ?? -1);
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const where = index >= 0 ? `README.md:${list[index]!.line + 1 + line}` : diagnostic.file.fileName;
    return `${where}: ${message}`;
  });
}

describe('README code', () => {
  const list = snippets();

  it('has TypeScript snippets, at least one of them runnable', () => {
    expect(list.length).toBeGreaterThanOrEqual(4);
    expect(list.some((snippet) => snippet.run)).toBe(true);
  });

  it('every ```ts snippet type-checks against the public entry points', () => {
    expect(typeErrors(list)).toEqual([]);
  });

  it('a snippet with a type error is reported (the check is live)', () => {
    const broken = { line: 0, code: "import { createRing } from 'shmring';\ncreateRing({ capacity: 'big' });\n", run: false };
    expect(typeErrors([broken]).join('\n')).toMatch(/README.md:2: .*'string' is not assignable to type 'number'/);
  });

  it('every ```ts run snippet runs in an app that installed the package and prints what it says', () => {
    const app = tempDir();
    mkdirSync(path.join(app, 'node_modules'));
    symlinkSync(root, path.join(app, 'node_modules', 'shmring'));
    writeFileSync(path.join(app, 'package.json'), '{ "type": "module" }\n');
    for (const snippet of list.filter((candidate) => candidate.run)) {
      const file = path.join(app, `snippet-${snippet.line}.mjs`);
      writeFileSync(file, ts.transpileModule(snippet.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
      const result = spawnSync(process.execPath, [file], { cwd: app, encoding: 'utf8' });
      expect(result.stderr, `README.md:${snippet.line}`).toBe('');
      expect(result.status, `README.md:${snippet.line}`).toBe(0);
      for (const [, said] of snippet.code.matchAll(/console\.log\(.*\);?[ \t]*\/\/[ \t]*(.+)$/gm)) {
        expect(result.stdout, `README.md:${snippet.line}`).toContain(said!.trim());
      }
    }
  });
});
