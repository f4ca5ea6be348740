// Newline-delimited JSON over fetch: a model pull answers with one JSON object
// per line while it runs. `NdjsonParser` is pure and incremental: feed it
// chunks split anywhere and it returns the values of the lines they complete.

/** A line that is not JSON. */
export class NdjsonError extends Error {
  constructor(readonly line: string) {
    super(`unreadable line in the progress stream: ${line.length > 80 ? line.slice(0, 77) + '…' : line}`);
  }
}

/** Incremental NDJSON parser (LF or CRLF line ends, blank lines skipped). */
export class NdjsonParser<T = unknown> {
  private buffer = '';

  /** Feed a chunk of text; returns the values of the lines it completed.
   *  Throws `NdjsonError` on a line that is not JSON. */
  push(chunk: string): T[] {
    this.buffer += chunk;
    const out: T[] = [];
    let start = 0;
    for (let nl = this.buffer.indexOf('\n'); nl !== -1; nl = this.buffer.indexOf('\n', start)) {
      const line = this.buffer.slice(start, nl);
      start = nl + 1;
      this.line(line, out);
    }
    this.buffer = this.buffer.slice(start);
    return out;
  }

  /** The stream ended: a last line without its newline still counts. */
  end(): T[] {
    const out: T[] = [];
    const rest = this.buffer;
    this.buffer = '';
    this.line(rest, out);
    return out;
  }

  private line(raw: string, out: T[]): void {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      throw new NdjsonError(line);
    }
  }
}

/** Read a fetch Response body as NDJSON values. */
export async function* readNdjson<T>(response: Response, signal?: AbortSignal): AsyncGenerator<T> {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = new NdjsonParser<T>();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* parser.push(value);
    }
    yield* parser.end();
  } finally {
    signal?.removeEventListener('abort', onAbort);
    reader.releaseLock();
  }
}
