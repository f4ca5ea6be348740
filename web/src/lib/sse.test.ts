import { describe, expect, it } from 'vitest';
import { SseParser, readSse } from './sse';

function all(chunks: string[]) {
  const p = new SseParser();
  return chunks.flatMap((c) => p.push(c));
}

describe('SseParser', () => {
  it('parses named events with JSON data', () => {
    const events = all(['event: delta\ndata: {"text":"Hi"}\n\n', 'event: done\ndata: {}\n\n']);
    expect(events).toEqual([
      { event: 'delta', data: '{"text":"Hi"}', id: undefined },
      { event: 'done', data: '{}', id: undefined },
    ]);
  });

  it('handles chunks split anywhere, byte by byte', () => {
    const text = 'event: delta\r\ndata: {"text":"a b"}\r\n\r\nevent: delta\rdata: x\r\r';
    const events = all([...text]);
    expect(events.map((e) => e.data)).toEqual(['{"text":"a b"}', 'x']);
  });

  it('splits CRLF across chunks without an empty line', () => {
    const events = all(['data: one\r', '\ndata: two\r', '\n\r', '\n']);
    expect(events).toEqual([{ event: 'message', data: 'one\ntwo', id: undefined }]);
  });

  it('ignores comments, keep-alives and unknown fields', () => {
    const events = all([':\n\n: keep-alive\n\nretry: 10\nfoo: bar\ndata: z\n\n']);
    expect(events).toEqual([{ event: 'message', data: 'z', id: undefined }]);
  });

  it('joins multi-line data and keeps the id', () => {
    const events = all(['id: 7\ndata: a\ndata:b\ndata\n\n']);
    expect(events).toEqual([{ event: 'message', data: 'a\nb\n', id: '7' }]);
  });

  it('drops an event without a blank line at the end', () => {
    const p = new SseParser();
    expect(p.push('data: partial\n')).toEqual([]);
    expect(p.end()).toEqual([]);
  });

  it('skips events without data', () => {
    expect(all(['event: ping\n\n'])).toEqual([]);
  });

  it('keeps unicode split across chunk boundaries in readSse', async () => {
    const bytes = new TextEncoder().encode('event: delta\ndata: {"text":"héllo 🔥"}\n\n');
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        for (const b of bytes) c.enqueue(new Uint8Array([b]));
        c.close();
      },
    });
    const events = [];
    for await (const e of readSse(new Response(body))) events.push(e);
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0].data).text).toBe('héllo 🔥');
  });
});
