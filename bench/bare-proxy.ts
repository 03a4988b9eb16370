// Reference point for the benchmark: the least an HTTP hop in Node can cost. It forwards bodies to the upstream
// on keep-alive sockets without parsing, validating, routing or accounting anything. Prints its base URL.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const target = new URL(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const up = request(
      { host: target.hostname, port: target.port, path: `${target.pathname}/chat/completions`, method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } },
      (ur) => {
        // A stream passes through as it comes.
        if (String(ur.headers['content-type'] ?? '').startsWith('text/event-stream')) {
          res.writeHead(ur.statusCode ?? 502, { 'content-type': 'text/event-stream' });
          ur.pipe(res);
          return;
        }
        const out: Buffer[] = [];
        ur.on('data', (c: Buffer) => out.push(c));
        ur.on('end', () => {
          const b = Buffer.concat(out);
          res.writeHead(ur.statusCode ?? 502, { 'content-type': 'application/json', 'content-length': b.length });
          res.end(b);
        });
      },
    );
    up.end(body);
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
