import { describe, expect, it } from 'vitest';
import { NdjsonError, NdjsonParser, readNdjson } from './ndjson';

function all(chunks: string[]) {
  const p = new NdjsonParser();
  return [...chunks.flatMap((c) => p.push(c)), ...p.end()];
}

describe('NdjsonParser', () => {
  it('parses one value per line', () => {
    expect(all(['{"status":"downloading","completed":1}\n{"status":"success"}\n'])).toEqual([
      { status: 'downloading', completed: 1 },
      { status: 'success' },
    ]);
  });

  it('handles chunks split anywhere, CRLF and blank lines', () => {
    const text = '{"a":1}\r\n\r\n{"b":"x y"}\n\n{"c":[1,2]}\r\n';
    expect(all([...text])).toEqual([{ a: 1 }, { b: 'x y' }, { c: [1, 2] }]);
  });

  it('keeps a partial line until its newline; end() takes a last line without one', () => {
    const p = new NdjsonParser();
    expect(p.push('{"a":')).toEqual([]);
    expect(p.push('1}\n{"b"')).toEqual([{ a: 1 }]);
    expect(p.push(':2}')).toEqual([]);
    expect(p.end()).toEqual([{ b: 2 }]);
    expect(p.end()).toEqual([]);
  });

  it('rejects a line that is not JSON, naming it', () => {
    const p = new NdjsonParser();
    expect(() => p.push('<html>oops</html>\n')).toThrow(NdjsonError);
    expect(() => new NdjsonParser().push('nope\n')).toThrow(/unreadable line.*nope/);
  });
});

describe('readNdjson', () => {
  it('reads a streamed Response body, including a last unterminated line', async () => {
    const enc = new TextEncoder();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(enc.encode('{"status":"downloading","total":10,"com'));
        c.enqueue(enc.encode('pleted":5}\n{"status":"success"}'));
        c.close();
      },
    });
    const out = [];
    for await (const v of readNdjson(new Response(body))) out.push(v);
    expect(out).toEqual([{ status: 'downloading', total: 10, completed: 5 }, { status: 'success' }]);
  });
});
