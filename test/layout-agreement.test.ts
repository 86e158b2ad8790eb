/**
 * One format, three languages: the C header (native/include/shmring/layout.h) is the source of truth;
 * this proves the TypeScript descriptor, the C++ addon (which compiles the header) and the Go peer
 * (which compiles its byte-identical copy through cgo, or uses constants generated from it when
 * built without cgo) all hold the same numbers, and that the layout itself is sane.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as layout from '../src/layout.js';
import { loadNative } from '../src/native.js';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Every `#define SHMRING_NAME value` of the header, as { NAME: number }. */
function headerConstants(): Record<string, number> {
  const text = readFileSync(`${root}/native/include/shmring/layout.h`, 'utf8');
  const constants: Record<string, number> = {};
  for (const match of text.matchAll(/^#define SHMRING_([A-Z0-9_]+)\s+(0x[0-9A-Fa-f]+|\d+)u?\b/gm)) {
    constants[match[1]] = Number(match[2]);
  }
  return constants;
}

const header = headerConstants();
const tsConstants = Object.fromEntries(Object.entries(layout).filter(([, value]) => typeof value === 'number')) as Record<string, number>;

describe('layout agreement', () => {
  it('the header defines the whole format', () => {
    expect(Object.keys(header).length).toBeGreaterThanOrEqual(38);
    expect(header.TAIL_OFFSET).toBe(128);
  });

  it('TypeScript == C header, name by name', () => {
    for (const [name, value] of Object.entries(header)) {
      expect(tsConstants[name], `TypeScript ${name}`).toBe(value);
    }
  });

  it('C++ addon == C header (values compiled into the addon)', () => {
    const native = loadNative().constants;
    for (const [name, value] of Object.entries(header)) {
      expect(native[name], `addon ${name}`).toBe(value);
    }
  });

  it('the Go module carries a byte-identical copy of the header (it must build when fetched alone)', () => {
    const copy = readFileSync(`${root}/go-peer/shmring/layout.h`);
    const source = readFileSync(`${root}/native/include/shmring/layout.h`);
    expect(copy.equals(source), 'go-peer/shmring/layout.h differs: run `go generate ./...` in go-peer/').toBe(true);
  });

  it('Go peer == C header (values compiled through cgo)', () => {
    const cli = `${root}/go-peer/bin/shmring`;
    expect(existsSync(cli), 'go-peer/bin/shmring is built by `npm test` (scripts/build-go.mjs)').toBe(true);
    const result = spawnSync(cli, ['layout', '--json'], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const go = JSON.parse(result.stdout) as Record<string, number>;
    for (const [name, value] of Object.entries(header)) {
      expect(go[name], `Go ${name}`).toBe(value);
    }
  });

  it('words of different writers or rates never share a 128-byte block; every word is naturally aligned', () => {
    const blockOf = (offset: number): number => Math.floor(offset / layout.BLOCK_LENGTH);
    expect(blockOf(layout.TAIL_OFFSET)).not.toBe(blockOf(layout.HEAD_OFFSET));
    const producerControl = [layout.PRODUCER_STATE_OFFSET, layout.PRODUCER_PID_OFFSET, layout.PRODUCER_HEARTBEAT_OFFSET, layout.PRODUCER_WAITING_OFFSET, layout.DATA_DOORBELL_OFFSET];
    const consumerControl = [layout.CONSUMER_STATE_OFFSET, layout.CONSUMER_PID_OFFSET, layout.CONSUMER_HEARTBEAT_OFFSET, layout.CONSUMER_WAITING_OFFSET, layout.SPACE_DOORBELL_OFFSET];
    const blocks = new Set([blockOf(layout.READY_OFFSET), blockOf(layout.TAIL_OFFSET), blockOf(layout.HEAD_OFFSET)]);
    for (const group of [producerControl, consumerControl]) {
      const groupBlocks = new Set(group.map(blockOf));
      expect(groupBlocks.size).toBe(1);
      for (const block of groupBlocks) expect(blocks.has(block)).toBe(false);
      for (const block of groupBlocks) blocks.add(block);
    }
    expect(blocks.size).toBe(5);
    for (const [name, value] of Object.entries(header)) {
      if (name.endsWith('_OFFSET')) expect(value % 4, name).toBe(0);
    }
    expect(layout.HEADER_LENGTH % 4096).toBe(0);
    expect(Math.max(...consumerControl)).toBeLessThan(layout.HEADER_LENGTH);
  });
});
