"""A slow OpenAI-style streaming upstream for the memory test: every POST gets an SSE answer
that dribbles one small chunk every INTERVAL seconds, COUNT times, then usage and [DONE].
Usage: python3 slow_upstream.py PORT [COUNT] [INTERVAL]"""
import asyncio
import json
import sys

PORT = int(sys.argv[1])
COUNT = int(sys.argv[2]) if len(sys.argv) > 2 else 60
INTERVAL = float(sys.argv[3]) if len(sys.argv) > 3 else 0.25
BASE = {"id": "chatcmpl-slow", "object": "chat.completion.chunk", "created": 1763900000, "model": "slow"}


def chunk(obj):
    data = ("data: " + json.dumps(obj, separators=(",", ":")) + "\n\n").encode()
    return b"%x\r\n%s\r\n" % (len(data), data)


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)


async def handle(reader, writer):
    try:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n")
            for i in range(COUNT):
                delta = {"content": "tok%d " % i}
                writer.write(chunk(dict(BASE, choices=[{"index": 0, "delta": delta, "finish_reason": None}])))
                await writer.drain()
                await asyncio.sleep(INTERVAL)
            usage = {"prompt_tokens": 10, "completion_tokens": COUNT, "total_tokens": 10 + COUNT}
            writer.write(chunk(dict(BASE, choices=[], usage=usage)))
            data = b"data: [DONE]\n\n"
            writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", PORT, backlog=4096)
    async with server:
        await server.serve_forever()


asyncio.run(main())
