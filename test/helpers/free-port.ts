// A port for a server a test starts (letterbox serve, Dovecot, Postfix, pebble) that must be
// named in its config before it runs. Taken below Linux's ephemeral range (32768-60999 by
// default, /proc/sys/net/ipv4/ip_local_port_range): a port the kernel hands out for listen(0)
// comes from that range, which every outgoing connection of the tests running alongside also
// draws its source port from, so one could take it between this probe and the server's bind
// (seen in CI: "address already in use" for a port probed a moment before).
import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_767;

/** A port on `host` nothing listens on now, from outside the ephemeral range. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (;;) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW + 1));
    const s = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, host, () => resolve(true));
    });
    if (ok) {
      await new Promise<void>((r) => s.close(() => r()));
      return port;
    }
  }
}
