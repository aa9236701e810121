// The least an SMTP server on Node can do per message (issue 19's floor): net.createServer,
// canned replies to HELO/EHLO, MAIL, RCPT, DATA and QUIT, the message read to its final dot
// and dropped. No parsing beyond the line, no store, no logger, no timers. Plain JavaScript
// (no loader) so that its CPU is Node's and the kernel's own. Started by node-floor.ts:
//   node bench/smtp/floor-responder.mjs PORT
import net from 'node:net';

const END = '\r\n.\r\n';
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.setEncoding('latin1');
  socket.on('error', () => {});
  socket.write('220 floor.test ESMTP\r\n');
  let inData = false;
  let pending = '';
  socket.on('data', (chunk) => {
    pending += chunk;
    for (;;) {
      if (inData) {
        const end = pending.indexOf(END);
        if (end < 0) {
          // Keep what could be the start of the final dot's line.
          if (pending.length > END.length) pending = pending.slice(-END.length);
          return;
        }
        pending = pending.slice(end + END.length);
        inData = false;
        socket.write('250 2.0.0 Ok: queued\r\n');
        continue;
      }
      const eol = pending.indexOf('\r\n');
      if (eol < 0) return;
      const verb = pending.slice(0, 4).toUpperCase();
      pending = pending.slice(eol + 2);
      if (verb === 'EHLO') socket.write('250-floor.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n');
      else if (verb === 'DATA') {
        inData = true;
        // The final dot's CRLF may be the one DATA's line ended with (an empty message).
        pending = `\r\n${pending}`;
        socket.write('354 End data with <CR><LF>.<CR><LF>\r\n');
      } else if (verb === 'QUIT') {
        socket.end('221 2.0.0 Bye\r\n');
        return;
      } else socket.write('250 2.1.0 Ok\r\n');
    }
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => process.stdout.write('listening\n'));
