/**
 * `npm run bench -- --quick` end to end, in a child process, into a temp file: checks only that
 * the results file is well-formed (every key present, a number or null with a reason). It
 * asserts no figure: benchmarks are not tests (issue 9).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESULT_KEYS } from '../../bench/keys.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');

describe('npm run bench -- --quick', () => {
  let dir: string;
  let results: Record<string, unknown>;
  let exit: { code: number | null; output: string };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'converge-bench-test-'));
    const out = path.join(dir, 'results.json');
    exit = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
      const chunks: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stderr.on('data', (c: Buffer) => chunks.push(c));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, output: Buffer.concat(chunks).toString('utf8') }));
    });
    results = JSON.parse(await readFile(out, 'utf8'));
  }, 240_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits cleanly', () => {
    expect(exit.code, exit.output.slice(-3000)).toBe(0);
  });

  it('writes every key, each a finite number or null with the reason it was skipped', () => {
    const skipped = (results.skipped ?? {}) as Record<string, unknown>;
    for (const key of RESULT_KEYS) {
      expect(results, `missing key ${key}`).toHaveProperty(key);
      const v = results[key];
      if (v === null) expect(typeof skipped[key] === 'string' && (skipped[key] as string).length > 0, `${key} is null without a reason`).toBe(true);
      else expect(typeof v === 'number' && Number.isFinite(v), `${key} = ${JSON.stringify(v)}`).toBe(true);
    }
  });

  it('records the run and the price constants the cost table used', () => {
    expect(results.mode).toBe('quick');
    expect(typeof results.durationMs).toBe('number');
    const prices = results.prices as Record<string, { usd: unknown; source: unknown; read: unknown }>;
    for (const p of Object.values(prices)) {
      expect(typeof p.usd).toBe('number');
      expect(typeof p.source).toBe('string');
      expect(typeof p.read).toBe('string');
    }
    expect(Array.isArray(results.costs)).toBe(true);
  });
});
