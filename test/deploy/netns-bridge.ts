// Test helper, run inside a network namespace (`ip netns exec NS node netns-bridge.ts ...`): joins
// TCP ports of that namespace to Unix sockets, which live in the file system and so are reachable
// from the test process in the host namespace. No address or route is added anywhere.
//   --tcp-to-unix PORT=SOCKET   listen on 127.0.0.1:PORT here, forward each connection to SOCKET
//   --unix-to-tcp SOCKET=PORT   listen on SOCKET, forward each connection to 127.0.0.1:PORT here
// Prints "ready" once every listener is up; exits on SIGTERM or when stdin closes.
import { connect, createServer, type Server, type Socket } from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'tcp-to-unix': { type: 'string', multiple: true, default: [] },
    'unix-to-tcp': { type: 'string', multiple: true, default: [] },
  },
});

function pipe(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const close = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on('error', close).on('close', close);
  b.on('error', close).on('close', close);
}

function listen(server: Server, target: string | number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof target === 'number') server.listen(target, '127.0.0.1', resolve);
    else server.listen(target, resolve);
  });
}

const servers: Server[] = [];
for (const spec of values['tcp-to-unix']) {
  const [port, socket] = spec.split('=') as [string, string];
  const server = createServer((c) => pipe(c, connect(socket)));
  await listen(server, Number(port));
  servers.push(server);
}
for (const spec of values['unix-to-tcp']) {
  const [socket, port] = spec.split('=') as [string, string];
  const server = createServer((c) => pipe(c, connect(Number(port), '127.0.0.1')));
  await listen(server, socket);
  servers.push(server);
}
const stop = (): void => {
  for (const s of servers) s.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.stdin.on('end', stop).resume();
process.stdout.write('ready\n');
