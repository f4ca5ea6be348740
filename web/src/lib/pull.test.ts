import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import { applyPullLine, describeFailure, pullBytes, pullPercent, servedName, startPull, streamEnded, type PullLine } from './pull';

const fold = (lines: PullLine[]) => lines.reduce(applyPullLine, startPull());

describe('pull progress', () => {
  it('folds the stream into one state; absent fields keep their value', () => {
    const s = fold([
      { status: 'pulling manifest', digest: null, total: 2048, completed: 0, error: null },
      { status: 'downloading', total: 2048, completed: 512 },
      { status: 'downloading', completed: 1024 },
    ]);
    expect(s).toMatchObject({ status: 'downloading', total: 2048, completed: 1024, done: false, error: null });
    expect(pullPercent(s)).toBe(50);
    expect(pullBytes(s)).toBe('50% · 1.00 KiB of 2.00 KiB');
  });

  it('ends with success and the digest', () => {
    const s = fold([
      { status: 'downloading', total: 100, completed: 100 },
      { status: 'verifying sha256 digest' },
      { status: 'writing manifest', digest: 'sha256:ab' },
      { status: 'success', digest: 'sha256:ab', total: 100, completed: 100, error: null },
    ]);
    expect(s).toMatchObject({ status: 'success', done: true, digest: 'sha256:ab', error: null });
    expect(pullPercent(s)).toBe(100);
  });

  it('keeps the failure reason; a failure without one still says it failed', () => {
    const mismatch = 'digest mismatch: expected sha256:aa, got sha256:bb; the download was discarded';
    const s = fold([{ status: 'downloading', total: 10, completed: 10 }, { status: 'failed', error: mismatch }]);
    expect(s).toMatchObject({ status: 'failed', done: true, error: mismatch, completed: 10 });
    expect(fold([{ status: 'failed' }]).error).toBe('the pull failed');
  });

  it('has no percent while the size is unknown, and never more than 100', () => {
    const s = fold([{ status: 'downloading', total: null, completed: 3 * 1024 * 1024 }]);
    expect(pullPercent(s)).toBeNull();
    expect(pullBytes(s)).toBe('3.00 MiB received');
    expect(pullBytes(startPull())).toBe('size not known yet');
    expect(pullPercent(fold([{ status: 'downloading', total: 10, completed: 11 }]))).toBe(100);
    expect(pullPercent(fold([{ status: 'downloading', total: -5, completed: Number.NaN }]))).toBeNull();
  });

  it('a stream that stops early is reported, a finished one is left alone', () => {
    const cut = streamEnded(fold([{ status: 'downloading', total: 10, completed: 4 }]));
    expect(cut).toMatchObject({ status: 'failed', done: true, completed: 4 });
    expect(cut.error).toMatch(/ended before the pull finished/);
    const ok = fold([{ status: 'success' }]);
    expect(streamEnded(ok)).toBe(ok);
  });

  it('words refusals by their code', () => {
    expect(describeFailure(new ApiError(507, 'E_STORAGE_QUOTA', 'needs 90 MB, 10 MB free'))).toBe("Not enough room under the models' disk quota: needs 90 MB, 10 MB free");
    expect(describeFailure(new ApiError(400, 'E_VALIDATION', "plain http is allowed only to this machine"))).toBe('Refused: plain http is allowed only to this machine');
    expect(describeFailure(new ApiError(503, 'E_PROVIDER_UNAVAILABLE', 'download failed: HTTP 404'))).toBe('Cannot download: download failed: HTTP 404');
    expect(describeFailure(new ApiError(418, 'E_OTHER', 'odd'))).toBe('odd');
    expect(describeFailure(new Error('network down'))).toBe('network down');
  });

  it('maps registry names to the served names of the picker', () => {
    expect(servedName('smollm2:latest')).toBe('smollm2');
    expect(servedName('Org/Model:Q4')).toBe('org/model:q4');
    expect(servedName('plain')).toBe('plain');
  });
});
