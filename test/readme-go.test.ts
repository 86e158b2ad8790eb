/**
 * Every ```go block of the README compiles against the Go package, as a user's module would build
 * it (a fresh module that requires github.com/shmring/shmring/go-peer, replaced by this checkout's
 * go-peer/). Names a snippet uses without declaring (the producer it writes with, the layout's
 * fields) are declared once as package variables below; each snippet becomes one function body.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTestFiles, tempDir } from './helpers/ringfiles.js';

afterAll(removeTestFiles);

const root = fileURLToPath(new URL('..', import.meta.url));
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

const PRELUDE = `package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/shmring/shmring/go-peer/shmring"
)

var (
	ctx                      = context.Background()
	producer                 *shmring.Producer
	consumer                 *shmring.Consumer
	ring                     *shmring.Ring
	layout                   = shmring.MustParseLayout("id:u64,price:f64,qty:u32,symbol:utf8[20]")
	id, price, qty, symbol   = layout.MustField("id"), layout.MustField("price"), layout.MustField("qty"), layout.MustField("symbol")
	trades                   []struct{ ID uint64; Price float64; Qty uint32; Symbol string }
	total                    float64
	_                        = errors.Is
	_                        = fmt.Sprint
)

func main() {}
`;

function goSnippets(): Array<{ line: number; code: string }> {
  const found: Array<{ line: number; code: string }> = [];
  const fence = /^```go[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (let match = fence.exec(readme); match; match = fence.exec(readme)) {
    found.push({ line: readme.slice(0, match.index).split('\n').length, code: match[1]! });
  }
  return found;
}

describe('README Go snippets', () => {
  it('every ```go block compiles against the package (go vet)', () => {
    const snippets = goSnippets();
    expect(snippets.length).toBeGreaterThan(0);
    const dir = tempDir();
    const goPeer = path.join(root, 'go-peer');
    writeFileSync(
      path.join(dir, 'go.mod'),
      `module readme\n\ngo 1.21\n\nrequire github.com/shmring/shmring/go-peer v0.0.0\n\nreplace github.com/shmring/shmring/go-peer => ${goPeer}\n`,
    );
    copyFileSync(path.join(goPeer, 'go.sum'), path.join(dir, 'go.sum'));
    const body = snippets.map((snippet, index) => `// README.md:${snippet.line}\nfunc snippet${index}() {\n${snippet.code}}\n`).join('\n');
    writeFileSync(path.join(dir, 'main.go'), PRELUDE + '\n' + body);
    const vet = spawnSync('go', ['vet', '-mod=mod', '.'], { cwd: dir, encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=mod' } });
    expect(vet.status, vet.stderr + vet.stdout).toBe(0);
  });
});
